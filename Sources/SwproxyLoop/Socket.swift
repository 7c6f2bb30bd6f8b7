internal import CSystem
import Glibc

/// Non-blocking descriptor helpers. They retry EINTR, turn EAGAIN into `.wouldBlock`, throw
/// `SyscallError` on environment failures and trap on programmer errors (EBADF).
public enum Socket {
    /// Sets O_NONBLOCK and FD_CLOEXEC.
    public static func makeNonBlocking(_ fd: Int32) throws {
        let flags = csys_fcntl_int(fd, F_GETFL, 0)
        guard flags >= 0, csys_fcntl_int(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SyscallError.current("fcntl(O_NONBLOCK)")
        }
        _ = csys_fcntl_int(fd, F_SETFD, FD_CLOEXEC)
    }

    /// A connected pair of non-blocking Unix stream sockets.
    public static func pair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SyscallError.current("socketpair")
        }
        try makeNonBlocking(fds[0])
        try makeNonBlocking(fds[1])
        return (fds[0], fds[1])
    }

    /// Reads into `buffer`; `.eof` when the peer closed its side.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult {
        let n = retryingEINTR { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        if n > 0 { return .bytes(n) }
        if n == 0 { return buffer.count == 0 ? .bytes(0) : .eof }
        return try failure("read", fd: fd)
    }

    /// Writes from `bytes` (never SIGPIPE: MSG_NOSIGNAL on sockets, SIGPIPE ignored for pipes).
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        guard bytes.count > 0 else { return .bytes(0) }
        var n = retryingEINTR { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 && csys_errno() == ENOTSOCK {
            n = retryingEINTR { Glibc.write(fd, bytes.baseAddress, bytes.count) }
        }
        if n >= 0 { return .bytes(n) }
        return try failure("write", fd: fd)
    }

    /// Writes all of `bytes` to a blocking descriptor (stdout, files), retrying short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = retryingEINTR { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                let err = csys_errno()
                if err == EAGAIN {
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, -1)
                    continue
                }
                precondition(err != EBADF, "write on a closed descriptor \(fd)")
                throw SyscallError("write", errno: err)
            }
            offset += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0) }
    }

    /// Closes a descriptor; EINTR on close is not retried (Linux has already released it).
    public static func close(_ fd: Int32) {
        if Glibc.close(fd) != 0 {
            precondition(csys_errno() != EBADF, "close of a descriptor that is not open: \(fd)")
        }
    }

    /// `shutdown(SHUT_WR)`: forwards a half-close; errors (peer already gone) are not interesting here.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    private static func failure(_ call: String, fd: Int32) throws -> IOResult {
        let err = csys_errno()
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        precondition(err != EBADF, "\(call) on a closed descriptor \(fd)")
        throw SyscallError(call, errno: err)
    }
}

extension Socket {
    /// Reads a whole file (`-` for standard input) into memory, blocking. For small local inputs: config
    /// files, `@file` arguments, URL lists.
    public static func readWholeFile(_ path: String) throws(SyscallError) -> [UInt8] {
        let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SyscallError.current("open(\(path))") }
        defer { if fd != 0 { Glibc.close(fd) } }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = retryingEINTR { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n < 0 { throw SyscallError.current("read(\(path))") }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }
}
