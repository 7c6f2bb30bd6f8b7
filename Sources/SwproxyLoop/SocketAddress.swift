internal import CSystem
import Glibc

/// An IPv4 or IPv6 socket address, parsed from and printed as `HOST:PORT` (`[::1]:8080` for IPv6).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case v4, v6 }
    public let family: Family
    /// The address in network byte order: 4 or 16 bytes.
    public let bytes: [UInt8]
    public let port: UInt16

    public init(family: Family, bytes: [UInt8], port: UInt16) {
        self.family = family
        self.bytes = bytes
        self.port = port
    }

    /// Parses `1.2.3.4:80`, `[::1]:80`, `::1` style literals (no name resolution, ever).
    public init?(host: String, port: UInt16) {
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, h, &v4) == 1 {
            self.init(family: .v4, bytes: withUnsafeBytes(of: v4) { Array($0) }, port: port)
        } else if inet_pton(AF_INET6, h, &v6) == 1 {
            self.init(family: .v6, bytes: withUnsafeBytes(of: v6) { Array($0) }, port: port)
        } else {
            return nil
        }
    }

    /// Parses `HOST:PORT` with a literal address.
    public init?(parsing s: String) {
        guard let colon = s.lastIndex(of: ":") else { return nil }
        let host = String(s[..<colon])
        guard let port = UInt16(s[s.index(after: colon)...]) else { return nil }
        if host.contains(":") && !host.hasPrefix("[") { return nil }
        self.init(host: host, port: port)
    }

    public var host: String {
        var buf = [CChar](repeating: 0, count: 64)
        bytes.withUnsafeBytes { b in
            _ = inet_ntop(family == .v4 ? AF_INET : AF_INET6, b.baseAddress, &buf, 64)
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        family == .v4 ? "\(host):\(port)" : "[\(host)]:\(port)"
    }

    public var isLoopback: Bool {
        switch family {
        case .v4: return bytes[0] == 127
        case .v6:
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            // IPv4-mapped loopback ::ffff:127.x.x.x
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
        }
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .v4:
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6:
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads a `sockaddr_storage` filled by accept/getsockname.
    init?(storage: sockaddr_storage) {
        var st = storage
        switch Int32(st.ss_family) {
        case AF_INET:
            let sa = withUnsafeBytes(of: &st) { $0.load(as: sockaddr_in.self) }
            self.init(family: .v4, bytes: withUnsafeBytes(of: sa.sin_addr) { Array($0) }, port: UInt16(bigEndian: sa.sin_port))
        case AF_INET6:
            let sa = withUnsafeBytes(of: &st) { $0.load(as: sockaddr_in6.self) }
            self.init(family: .v6, bytes: withUnsafeBytes(of: sa.sin6_addr) { Array($0) }, port: UInt16(bigEndian: sa.sin6_port))
        default:
            return nil
        }
    }
}

extension Socket {
    /// A non-blocking listening TCP socket. Returns the descriptor and the address actually bound (port 0
    /// picks a free one).
    public static func listen(on address: SocketAddress, backlog: Int32 = 4096, reusePort: Bool = false) throws
        -> (fd: Int32, address: SocketAddress)
    {
        let domain = address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SyscallError.current("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if address.family == .v6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let e = SyscallError.current("bind(\(address))")
            Glibc.close(fd)
            throw e
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = SyscallError.current("listen(\(address))")
            Glibc.close(fd)
            throw e
        }
        return (fd, localAddress(fd) ?? address)
    }

    /// The address a socket is bound to.
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &st) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return r == 0 ? SocketAddress(storage: st) : nil
    }

    public enum AcceptResult {
        case accepted(Int32, SocketAddress?)
        case wouldBlock
        /// Out of descriptors (EMFILE/ENFILE): stop accepting until one is freed.
        case outOfDescriptors
        /// The connection went away before it was accepted; try again.
        case retry
    }

    /// Accepts one connection, non-blocking and close-on-exec.
    public static func accept(_ fd: Int32) throws -> AcceptResult {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let c = withUnsafeMutablePointer(to: &st) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                csys_accept4(fd, $0, &len, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
        }
        if c >= 0 { return .accepted(c, SocketAddress(storage: st)) }
        switch csys_errno() {
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EINTR, ECONNABORTED, EPROTO, EPERM: return .retry
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .outOfDescriptors
        case let e:
            precondition(e != EBADF, "accept on a closed descriptor")
            throw SyscallError("accept4", errno: e)
        }
    }

    /// Sets TCP_NODELAY (proxied request/response heads should not wait for Nagle).
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
