import SwproxyHTTP

/// The one place where what happened to a request is written down: its access-log line and its metrics.
/// Connections and jobs say what happened (`answered`, `refused`, `tunnelOpened` …); only this type
/// writes the log and counts.
final class Journal {
    private var accessLog: AccessLog
    let metrics: Metrics

    init(config: ServeConfiguration, metrics: Metrics) throws {
        accessLog = try AccessLog(config: config)
        self.metrics = metrics
    }

    /// Opens the access log again (after logrotate moved it, or a reload), keeping the old one on failure.
    func reopen(_ c: ServeConfiguration) {
        do {
            let fresh = try AccessLog(config: c)
            accessLog.close()
            accessLog = fresh
        } catch {
            ProxyServer.printError("swproxy serve: cannot reopen the access log: \(error)")
        }
    }

    func close() { accessLog.close() }

    /// What the log line and the counters need of a finished request or tunnel.
    struct Record {
        var client: String
        var head: RequestHead?
        var status: Int
        var bytesIn: Int64 = 0
        var bytesOut: Int64 = 0
        var seconds: Double = 0
        var upstream: String? = nil
        /// The reason code of a refusal or a failure (`auth`, `host-denied`, `upstream-timeout` …).
        var reason: String? = nil
        /// Under `--audit`: the refusal the policy only logged (`host-denied`, `sni-mismatch` …).
        var wouldDeny: String? = nil
        /// On the cache path: HIT, MISS, REVALIDATED, STALE, COALESCED or BYPASS.
        var cache: String? = nil
    }

    /// A request answered (by the origin, or by the proxy itself), or a tunnel that ended. A tunnel's
    /// request was counted when it opened (`tunnelOpened`): its end adds only its bytes.
    func answered(_ r: Record) {
        let method = r.head?.method ?? "-"
        if method == "CONNECT" {
            metrics.counters.add(Metrics.Slot.bytesFromClients, Int(r.bytesIn))
            metrics.counters.add(Metrics.Slot.bytesToClients, Int(r.bytesOut))
        } else {
            count(method: method, r)
        }
        write(r)
    }

    /// The proxy's own error answer (a refusal by policy, a bad request, an upstream failure before any
    /// response byte).
    func refused(_ r: Record) {
        count(method: r.head?.method ?? "-", r)
        if r.status == 403 || r.status == 407 { metrics.counters.add(Metrics.Slot.connectionsRefused) }
        if let reason = r.reason { metrics.refusal(reason) }
        write(r)
    }

    /// A tunnel closed after its `200` because of what the client sent first (its TLS ClientHello): counted
    /// as a refusal; its log line comes when the tunnel's end is recorded.
    func tunnelRefused(_ reason: String) {
        metrics.counters.add(Metrics.Slot.connectionsRefused)
        metrics.refusal(reason)
    }

    /// A request on the cache path, by its cache status (`CacheJob`).
    func cacheRequest(_ label: String) {
        metrics.counters.add(Metrics.Slot.cacheRequests + (Metrics.cacheStatuses.firstIndex(of: label) ?? 0))
    }

    /// Body bytes a fill took from upstream, or a cache answer sent from the store.
    func cacheBytes(fromUpstream n: Int) { metrics.counters.add(Metrics.Slot.cacheBytesFromUpstream, n) }
    func cacheBytes(fromCache n: Int) { metrics.counters.add(Metrics.Slot.cacheBytesFromCache, n) }

    /// `--audit`: a refusal only logged.
    func wouldDeny(_ reason: String) { metrics.wouldDeny(reason) }

    /// A connection ended before any request: a malformed PROXY header. Logged, not counted as a request.
    func unframed(client: String, reason: String) {
        write(Record(client: client, head: nil, status: 400, reason: reason))
    }

    /// A `--listen-tls` handshake completed.
    func tlsHandshake() { metrics.counters.add(Metrics.Slot.tlsHandshakes) }

    /// A `--listen-tls` handshake failed: logged (no request, no status but the log's 400) and counted.
    func tlsHandshakeFailed(client: String, why: String) {
        metrics.counters.add(Metrics.Slot.tlsHandshakeFailures)
        write(Record(client: client, head: nil, status: 400, reason: "tls-handshake: \(why)"))
    }

    func connectionOpened() {
        metrics.counters.add(Metrics.Slot.connectionsAccepted)
        metrics.counters.add(Metrics.Slot.connectionsActive)
    }

    func connectionClosed() { metrics.counters.add(Metrics.Slot.connectionsActive, -1) }

    /// The client address was refused at accept (or by its PROXY header); its 403 follows as `refused`.
    func clientDenied() { metrics.counters.add(Metrics.Slot.connectionsDenied) }

    /// A CONNECT tunnel was established (`200 Connection established`) or an Upgrade switched (101): the
    /// request is counted now, its log line comes when it ends.
    func tunnelOpened(method: String, status: Int, seconds: Double) {
        if method == "CONNECT" { metrics.counters.add(Metrics.Slot.tunnelsOpened) }
        metrics.request(method: method, status: status, seconds: seconds)
    }

    /// An upstream socket of a tunnel or Upgrade was taken over (`up`) or released.
    func tunnelActive(_ up: Bool) { metrics.counters.add(Metrics.Slot.tunnelsActive, up ? 1 : -1) }

    private func count(method: String, _ r: Record) {
        metrics.request(method: method, status: r.status, seconds: r.seconds)
        metrics.counters.add(Metrics.Slot.bytesFromClients, Int(r.bytesIn))
        metrics.counters.add(Metrics.Slot.bytesToClients, Int(r.bytesOut))
        if let e = r.reason, e.hasPrefix("upstream-"), r.status >= 500 { metrics.upstreamError(e) }
    }

    private func write(_ r: Record) {
        guard accessLog.enabled else { return }
        let h = r.head
        accessLog.write(AccessLog.Entry(
            client: r.client, method: h?.method ?? "-", target: h?.rawTarget ?? "-", version: h?.version.text ?? "-",
            status: r.status, bytesIn: r.bytesIn, bytesOut: r.bytesOut, durationMs: r.seconds * 1000,
            referer: h?.field("referer"), userAgent: h?.field("user-agent"), upstream: r.upstream, error: r.reason,
            wouldDeny: r.wouldDeny, cache: r.cache))
    }
}
