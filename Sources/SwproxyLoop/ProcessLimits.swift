internal import CSystem

/// Raises the soft open-file limit to the hard one (a proxy holds two descriptors per proxied request).
public func raiseOpenFileLimit() -> Int { Int(csys_raise_nofile()) }

/// The terminal's size on a descriptor (rows, columns), or nil when it is not a terminal.
public func terminalSize(_ fd: Int32) -> (rows: Int, cols: Int)? {
    var rows: UInt16 = 0
    var cols: UInt16 = 0
    guard csys_ioctl_winsize(fd, &rows, &cols) == 0, cols > 0 else { return nil }
    return (Int(rows), Int(cols))
}
