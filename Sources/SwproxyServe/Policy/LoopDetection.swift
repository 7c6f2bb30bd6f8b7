import SwproxyHTTP
import SwproxyLoop

/// Loop detection: a request that already passed through this proxy, or that targets the proxy itself.
enum LoopDetection {
    /// Whether any `Via` entry's received-by is this proxy's name (RFC 9110 §7.6.3).
    static func viaHasOwnToken(_ vias: [String], name: String) -> Bool {
        for v in vias {
            for entry in v.split(separator: ",") {
                let parts = entry.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if parts.count >= 2 && parts[1].lowercased() == name.lowercased() { return true }
            }
        }
        return false
    }

    static func targetsOwnListener(_ target: RequestTarget, listen: [SocketAddress]) -> Bool {
        let host: String
        let port: Int
        switch target {
        case .absolute(_, let h, let p, _): host = h; port = p
        case .authority(let h, let p): host = h; port = p
        default: return false
        }
        // Per request, and almost always another port: compare ports before any address work.
        guard listen.contains(where: { Int($0.port) == port }) else { return false }
        // `localhost` (RFC 6761: always loopback) is the proxy itself as surely as 127.0.0.1 is; other names
        // would need a lookup here, and the Via check catches them unless --no-via. (The parser lowercases
        // hosts.)
        if host == "localhost" || host.hasSuffix(".localhost") {
            return listen.contains { l in Int(l.port) == port && (l.isLoopback || l.bytes.allSatisfy { $0 == 0 }) }
        }
        guard let addr = SocketAddress(host: host, port: UInt16(port)) else { return false }
        return listen.contains { l in
            guard Int(l.port) == port else { return false }
            if l == addr { return true }
            // A wildcard listener also answers on loopback.
            let wildcard = l.bytes.allSatisfy { $0 == 0 }
            return wildcard && addr.isLoopback && l.family == addr.family
        }
    }
}
