import SwproxyHTTP
import SwproxyLoop

/// Every decision about who may use the proxy and for what, composed in one place and in this order:
/// client address (at accept, or once the PROXY header named the client) → request head (the parser) →
/// proxy auth → loop detection → host rules → CONNECT port → body size → the proxy's own answers
/// (`Max-Forwards: 0`) → what this proxy serves (forward and/or reverse) → a chunked body's running size
/// (`admitsBody`) → destination address (at connect time, `destinationFilter`). Each check is a small pure
/// predicate that returns its verdict with its reason (the `ProxyError`'s log reason); this type composes
/// them. One per loop (it caches successful password checks, since bcrypt is deliberately slow).
final class Policy {
    /// The verdict on one request head.
    enum Verdict: Equatable {
        /// Forward it (exchange, tunnel or upgrade). `wouldDeny`: under `--audit` (or `--learn`), the reason
        /// the host rules would have refused it.
        case forward(wouldDeny: String?)
        /// The proxy answers it itself with this complete response.
        case answer(status: Int, bytes: [UInt8])
        case refuse(ProxyError)
    }

    /// The verdict on a client address.
    enum Admission: Equatable {
        case admit
        case refuse(ProxyError)
    }

    let config: ServeConfiguration
    private let hosts: HostRules
    private let access: ClientAccess
    private var verified: Set<String> = []
    /// Host rules are logged, not enforced (`--audit`, and `--learn`, which lets everything through).
    private let enforcesHosts: Bool

    init(config: ServeConfiguration) {
        self.config = config
        hosts = HostRules(allow: config.allowHosts, deny: config.denyHosts)
        access = ClientAccess(allow: config.allow, deny: config.deny)
        enforcesHosts = !config.audit && config.learner == nil
    }

    /// --allow / --deny: checked at accept, or against the address a PROXY header names.
    func admit(_ client: SocketAddress?) -> Admission {
        access.permits(client) ? .admit : .refuse(.clientDenied)
    }

    /// Everything decided from the head: `check`, then the proxy's own answers, then the mode checks.
    func verdict(for head: RequestHead, client: SocketAddress?) -> Verdict {
        var wouldDeny: String?
        if let e = check(head, client: client, wouldDeny: &wouldDeny) { return .refuse(e) }
        if let a = answerLocally(head) { return .answer(status: a.status, bytes: a.bytes) }
        if let e = Policy.modeRefusal(head.target, forwards: config.forwards, reverse: config.reverse != nil) {
            return .refuse(e)
        }
        if let learner = config.learner, let d = Policy.destination(of: head.target) { learner.saw(d) }
        return .forward(wouldDeny: wouldDeny)
    }

    /// What this proxy serves: absolute-form and CONNECT when it forwards, origin-form when it is a reverse
    /// proxy; `*` never (OPTIONS * with Max-Forwards: 0 was answered before).
    static func modeRefusal(_ target: RequestTarget, forwards: Bool, reverse: Bool) -> ProxyError? {
        switch target {
        case .authority, .absolute: return forwards ? nil : .reverseOnly
        case .origin: return reverse ? nil : .originForm
        case .asterisk: return reverse ? .reverseOnly : .originForm
        }
    }

    /// A chunked request body's running size (a declared Content-Length was checked with the head).
    func admitsBody(of bytes: UInt64) -> Bool {
        guard let max = config.maxBodySize else { return true }
        return bytes <= max
    }

    /// The first check the head fails, or nil. A host-rule refusal that is only audited is put in
    /// `wouldDeny` instead.
    func check(_ head: RequestHead, client: SocketAddress?, wouldDeny: inout String?) -> ProxyError? {
        if config.auth.isEnabled && !authenticated(head.field("proxy-authorization")) {
            return .authRequired
        }
        if LoopDetection.viaHasOwnToken(head.fields("via"), name: config.receivedBy)
            || LoopDetection.targetsOwnListener(head.target, listen: config.allListeners)
        {
            return .loop
        }
        if !hosts.isEmpty, let d = Policy.destination(of: head.target), !hosts.permits(d) {
            if enforcesHosts { return .hostDenied }
            wouldDeny = ProxyError.hostDenied.logReason
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

    /// Where an absolute-form or CONNECT request goes; nil for origin-form (a reverse proxy's backend).
    static func destination(of target: RequestTarget) -> Destination? {
        switch target {
        case .absolute(_, let h, let p, _), .authority(let h, let p): return Destination(host: h, port: p)
        default: return nil
        }
    }

    /// Whether a tunnel's first client bytes must be a TLS ClientHello whose server name is checked
    /// (`checkHello`) before anything goes upstream.
    var checksTunnelHello: Bool { config.tunnelCheckSNI || config.tunnelRequireTLS || !hosts.isEmpty }

    /// The verdict on a tunnel's first client bytes: nil to relay, else the refusal. `enforced` is false
    /// when the refusal is only audited (and the tunnel relays).
    /// - No server name: accepted for a CONNECT to an IP literal (clients send none for addresses), refused
    ///   (`sni-missing`) for a name.
    /// - A name that is not the CONNECT host (case and a trailing dot aside), or that the host rules refuse:
    ///   `sni-mismatch`. With ECH the name seen is the outer (public) one, so it must be the CONNECT host too.
    /// - Bytes that are not TLS: relayed, unless `--tunnel-require-tls` (`not-tls`); a handshake that cannot
    ///   be read: `sni-unreadable`.
    func checkHello(_ hello: TLSClientHello.Inspection, connectHost: String, port: Int) -> (error: ProxyError, enforced: Bool)? {
        let error: ProxyError?
        let connect = Destination(host: connectHost, port: port)
        switch hello {
        case .needMore: return nil
        case .notTLS: error = config.tunnelRequireTLS ? .notTLS : nil
        case .malformed: error = .sniUnreadable
        case .hello(let name, _):
            if let n = name {
                let sni = Destination(host: n, port: port)
                error = sni.host != connect.host || (!hosts.isEmpty && !hosts.permits(sni)) ? .sniMismatch : nil
            } else {
                error = connect.address == nil ? .sniMissing : nil
            }
        }
        return error.map { ($0, enforcesHosts) }
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
        if let v = config.viaEntry { fields.append(HeaderField("Via", v)) }
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
