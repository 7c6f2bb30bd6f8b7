import SwproxyLoop

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address).
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    public let network: SocketAddress
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let addr = SocketAddress(host: String(first), port: 0) else { return nil }
        let maxPrefix = addr.family == .v4 ? 32 : 128
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), p >= 0, p <= maxPrefix else { return nil }
            prefix = p
        }
        network = addr
        self.prefix = prefix
    }

    /// Whether `address` lies in this network (IPv4-mapped IPv6 addresses match IPv4 networks).
    public func contains(_ address: SocketAddress) -> Bool {
        var bytes = address.bytes
        if network.family == .v4 && address.family == .v6 {
            guard bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff else { return false }
            bytes = Array(bytes[12..<16])
        } else if network.family != address.family {
            return false
        }
        var remaining = prefix
        for i in 0..<bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[i] & mask != network.bytes[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { "\(network.host)/\(prefix)" }
}

/// `--allow`/`--deny`: a client is let in when it matches an allow rule (or there are none) and no deny
/// rule; deny wins.
struct ClientAccess: Sendable {
    let allow: [CIDR]
    let deny: [CIDR]

    func permits(_ client: SocketAddress?) -> Bool {
        guard let c = client else { return allow.isEmpty && deny.isEmpty }
        if deny.contains(where: { $0.contains(c) }) { return false }
        return allow.isEmpty || allow.contains(where: { $0.contains(c) })
    }
}
