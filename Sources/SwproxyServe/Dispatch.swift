import SwproxyHTTP

/// What runs on a forwarded head: a CONNECT tunnel, an Upgrade relay, or an exchange through libcurl.
/// (Whether it is forwarded at all is `Policy.verdict`'s decision, made before.)
enum Dispatch {
    static func job(for head: RequestHead, client: ClientSide, context: LoopContext) -> ClientJob {
        if case .authority(let host, let port) = head.target {
            return Tunnel(client: client, context: context, head: head, host: host, port: port)
        }
        if let u = upgrade(head, client: client, context: context) {
            return Tunnel(client: client, context: context, head: head, upgrade: u)
        }
        let config = context.snapshot
        if let store = config.value.cache, head.method == "GET" || head.method == "HEAD",
            let key = CacheJob.key(head, reverse: config.value.reverse)
        {
            return CacheJob(client: client, context: context, head: head, store: store, key: key)
        }
        let x = ProxyExchange(client: client, context: context, head: head)
        // The cache forwards what it does not handle, and says so (RFC 9211).
        if config.value.cache != nil {
            x.cache = (status: "swproxy; fwd=bypass", label: "BYPASS")
            context.journal.cacheRequest("BYPASS")
        }
        return x
    }

    /// An Upgrade (WebSocket) request to relay after a 101, or nil to forward the request normally (with
    /// `Upgrade` stripped as hop-by-hop): `--no-upgrade`, HTTP/1.0, a request body, or an https:// origin.
    /// - SeeAlso: RFC 9110 §7.8
    static func upgrade(_ head: RequestHead, client: ClientSide, context: LoopContext) -> Tunnel.Upgrade? {
        guard context.snapshot.value.upgrade, head.version == .http11, head.framing == .none, head.connectionTokens.contains("upgrade"),
            head.field("upgrade") != nil, let dest = context.router.upgrade(head)
        else { return nil }
        var fields = UpstreamHead(settings: context.snapshot, head: head, client: client.peer, clientHost: client.peerHost)
            .fields(upgrade: true)
        if !fields.contains(where: { $0.isNamed("host") }) { fields.insert(HeaderField("Host", dest.authority), at: 0) }
        return Tunnel.Upgrade(host: dest.host, port: dest.port,
                              requestHead: HeadWriter.request(method: head.method, target: dest.target, fields: fields))
    }
}
