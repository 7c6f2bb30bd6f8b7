import SwproxyHTTP
import SwproxyLoop

/// The checks a request passes before anything is forwarded, composed in one place and in this order:
/// client address (at accept, `ClientAccess`) → request head (the parser) → proxy auth → loop detection →
/// host rules → CONNECT port → body size → destination address (at connect time, `PrivateAddress`).
/// Each check is a small pure predicate; this type only composes them. One per loop (it caches successful
/// password checks, since bcrypt is deliberately slow).
final class Policy {
    let config: ServeConfiguration
    private let hosts: HostRules
    private var verified: Set<String> = []

    init(config: ServeConfiguration) {
        self.config = config
        hosts = HostRules(allow: config.allowHosts, deny: config.denyHosts)
    }

    func check(_ head: RequestHead, client: SocketAddress?) -> ProxyError? {
        if config.auth.isEnabled && !authenticated(head.field("proxy-authorization")) {
            return .authRequired
        }
        if LoopDetection.viaHasOwnToken(head.fields("via"), name: config.viaName)
            || LoopDetection.targetsOwnListener(head.target, listen: config.listen)
        {
            return .loop
        }
        if !hosts.isEmpty, let host = Policy.host(of: head.target), !hosts.permits(host) {
            return .hostDenied
        }
        if case .authority(_, let port) = head.target, !config.connectPorts.contains(port) {
            return .forbiddenPort
        }
        if let max = config.maxBodySize, case .contentLength(let n) = head.framing, n > max {
            return .bodyTooLarge
        }
        return nil
    }

    /// The address check libcurl runs on every address it is about to connect to, or nil for none.
    var destinationFilter: (([UInt8]) -> Bool)? {
        config.blockPrivate ? { !PrivateAddress.isBlocked($0) } : nil
    }

    private func authenticated(_ header: String?) -> Bool {
        guard let h = header else { return false }
        if verified.contains(h) { return true }
        guard config.auth.verify(h) else { return false }
        if verified.count >= 1024 { verified.removeAll() }
        verified.insert(h)
        return true
    }

    static func host(of target: RequestTarget) -> String? {
        switch target {
        case .absolute(_, let h, _, _), .authority(let h, _):
            return h.hasPrefix("[") ? String(h.dropFirst().dropLast()) : h
        default:
            return nil
        }
    }

    /// `OPTIONS`/`TRACE` with `Max-Forwards: 0` are answered by the proxy itself (RFC 9110 §7.6.2).
    func answerLocally(_ head: RequestHead) -> (status: Int, bytes: [UInt8])? {
        guard head.method == "OPTIONS" || head.method == "TRACE", let mf = head.field("max-forwards"),
            let n = Int(mf), n == 0
        else { return nil }
        var fields: [HeaderField] = []
        var body: [UInt8] = []
        if head.method == "TRACE" {
            // The request as received, minus credentials (RFC 9110 §9.3.8).
            body = Array("TRACE \(head.rawTarget) \(head.version.text)\r\n".utf8)
            for f in head.fields where !f.isNamed("proxy-authorization") && !f.isNamed("authorization") && !f.isNamed("cookie") {
                body += Array("\(f.name): \(f.value)\r\n".utf8)
            }
            body += [13, 10]
            fields.append(HeaderField("Content-Type", "message/http"))
        } else {
            fields.append(HeaderField("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT"))
        }
        fields.append(HeaderField("Content-Length", String(body.count)))
        if config.via { fields.append(HeaderField("Via", "1.1 \(config.viaName)")) }
        if !head.keepAlive { fields.append(HeaderField("Connection", "close")) }
        return (200, HeadWriter.response(status: 200, reason: "", fields: fields) + body)
    }

    /// The `Max-Forwards` value to send upstream for OPTIONS/TRACE (decremented), or nil to leave it.
    static func decrementedMaxForwards(_ head: RequestHead) -> String? {
        guard head.method == "OPTIONS" || head.method == "TRACE", let mf = head.field("max-forwards"),
            let n = Int(mf), n > 0
        else { return nil }
        return String(n - 1)
    }
}

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
