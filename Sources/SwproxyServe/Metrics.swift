import SwproxyLoop

/// One loop's counters, written by that loop only and summed across loops on scrape. The Prometheus text
/// format is written by hand (`MetricsText`): it is a few lines, and swift-prometheus would bring
/// swift-metrics, atomics and a registry for what is here a fixed set of counters.
final class Metrics: Sendable {
    static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "other"]
    static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
    static let upstreamKinds = ["resolve", "connect", "tls", "timeout", "other"]
    /// The reason codes of the proxy's own refusals (`ProxyError.logReason`), counted each; `other` for the rest.
    static let reasons = ["client-denied", "auth", "host-denied", "port-denied", "private-address", "sni-mismatch",
                          "sni-missing", "sni-unreadable", "sni-timeout", "not-tls", "loop", "body-too-large",
                          "bad-request", "header-timeout", "other"]
    /// Request duration histogram bounds, seconds.
    /// The cache statuses of the access log, in the order of their counters.
    static let cacheStatuses = ["HIT", "MISS", "REVALIDATED", "STALE", "COALESCED", "BYPASS"]
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    enum Slot {
        static let requests = 0  // methods × classes
        static let tunnelsOpened = requests + methods.count * classes.count
        static let tunnelsActive = tunnelsOpened + 1
        static let bytesFromClients = tunnelsActive + 1
        static let bytesToClients = bytesFromClients + 1
        static let connectionsAccepted = bytesToClients + 1
        static let connectionsActive = connectionsAccepted + 1
        static let connectionsRefused = connectionsActive + 1
        /// Client connections turned away by --allow/--deny (also counted in connectionsRefused).
        static let connectionsDenied = connectionsRefused + 1
        static let upstreamErrors = connectionsDenied + 1  // × upstreamKinds
        static let refusals = upstreamErrors + upstreamKinds.count  // × reasons
        static let wouldDeny = refusals + reasons.count  // × reasons
        static let durationBuckets = wouldDeny + reasons.count  // × buckets (non-cumulative)
        static let durationSumMicros = durationBuckets + buckets.count + 1  // + the +Inf bucket
        static let durationCount = durationSumMicros + 1
        static let tlsHandshakes = durationCount + 1
        static let tlsHandshakeFailures = tlsHandshakes + 1
        static let cacheRequests = tlsHandshakeFailures + 1  // × cacheStatuses
        static let cacheBytesFromCache = cacheRequests + cacheStatuses.count
        static let cacheBytesFromUpstream = cacheBytesFromCache + 1
        static let total = cacheBytesFromUpstream + 1
    }

    let counters = AtomicCounters(count: Slot.total)
    let loop: Int

    init(loop: Int) { self.loop = loop }

    func request(method: String, status: Int, seconds: Double) {
        let m = Metrics.methods.firstIndex(of: method) ?? Metrics.methods.count - 1
        let c = min(max(status / 100, 1), 5) - 1
        counters.add(Slot.requests + m * Metrics.classes.count + c)
        let b = Metrics.buckets.firstIndex(where: { seconds <= $0 }) ?? Metrics.buckets.count
        counters.add(Slot.durationBuckets + b)
        counters.add(Slot.durationSumMicros, Int(seconds * 1_000_000))
        counters.add(Slot.durationCount)
    }

    /// Upstream failures are counted by kind instead (`upstreamError`).
    func refusal(_ reason: String) {
        guard !reason.hasPrefix("upstream-") else { return }
        counters.add(Slot.refusals + Metrics.reasonIndex(reason))
    }
    func wouldDeny(_ reason: String) { counters.add(Slot.wouldDeny + Metrics.reasonIndex(reason)) }

    static func reasonIndex(_ reason: String) -> Int { reasons.firstIndex(of: reason) ?? reasons.count - 1 }

    func upstreamError(_ logReason: String) {
        let kind: Int
        switch logReason {
        case "upstream-resolve": kind = 0
        case "upstream-connect": kind = 1
        case "upstream-tls": kind = 2
        case "upstream-timeout": kind = 3
        default: kind = 4
        }
        counters.add(Slot.upstreamErrors + kind)
    }
}
