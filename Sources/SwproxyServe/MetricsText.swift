/// The Prometheus text exposition of every loop's metrics.
/// - SeeAlso: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4)
enum MetricsText {
    static func render(_ loops: [Metrics], draining: Bool) -> String {
        func sum(_ slot: Int) -> Int { loops.reduce(0) { $0 + $1.counters.load(slot) } }
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        header("swproxy_requests_total", "counter", "Requests answered, by method and status class.")
        for (m, method) in Metrics.methods.enumerated() {
            for (c, cls) in Metrics.classes.enumerated() {
                let v = sum(Metrics.Slot.requests + m * Metrics.classes.count + c)
                if v > 0 { out += "swproxy_requests_total{method=\"\(method)\",class=\"\(cls)\"} \(v)\n" }
            }
        }
        header("swproxy_tunnels_opened_total", "counter", "CONNECT tunnels established.")
        out += "swproxy_tunnels_opened_total \(sum(Metrics.Slot.tunnelsOpened))\n"
        header("swproxy_tunnels_active", "gauge", "CONNECT tunnels open now.")
        out += "swproxy_tunnels_active \(sum(Metrics.Slot.tunnelsActive))\n"
        header("swproxy_client_bytes_received_total", "counter", "Bytes read from clients (request bodies, tunnel data).")
        out += "swproxy_client_bytes_received_total \(sum(Metrics.Slot.bytesFromClients))\n"
        header("swproxy_client_bytes_sent_total", "counter", "Body and tunnel bytes written to clients.")
        out += "swproxy_client_bytes_sent_total \(sum(Metrics.Slot.bytesToClients))\n"
        header("swproxy_connections_accepted_total", "counter", "Client connections accepted.")
        out += "swproxy_connections_accepted_total \(sum(Metrics.Slot.connectionsAccepted))\n"
        header("swproxy_connections_active", "gauge", "Client connections open now.")
        out += "swproxy_connections_active \(sum(Metrics.Slot.connectionsActive))\n"
        header("swproxy_policy_refusals_total", "counter", "Requests and connections refused by policy (403, 407).")
        out += "swproxy_policy_refusals_total \(sum(Metrics.Slot.connectionsRefused))\n"
        header("swproxy_connections_refused_total", "counter", "Client connections refused by --allow/--deny.")
        out += "swproxy_connections_refused_total \(sum(Metrics.Slot.connectionsDenied))\n"
        header("swproxy_refusals_total", "counter", "The proxy's own refusals, by reason code (also in the access log and the answer's body).")
        for (k, reason) in Metrics.reasons.enumerated() {
            out += "swproxy_refusals_total{reason=\"\(reason)\"} \(sum(Metrics.Slot.refusals + k))\n"
        }
        header("swproxy_would_deny_total", "counter", "Requests and tunnels --audit let through that the rules refuse, by reason.")
        for (k, reason) in Metrics.reasons.enumerated() {
            let v = sum(Metrics.Slot.wouldDeny + k)
            if v > 0 { out += "swproxy_would_deny_total{reason=\"\(reason)\"} \(v)\n" }
        }
        header("swproxy_tls_handshakes_total", "counter", "TLS handshakes completed on --listen-tls listeners.")
        out += "swproxy_tls_handshakes_total \(sum(Metrics.Slot.tlsHandshakes))\n"
        header("swproxy_tls_handshake_failures_total", "counter", "TLS handshakes on --listen-tls listeners that failed.")
        out += "swproxy_tls_handshake_failures_total \(sum(Metrics.Slot.tlsHandshakeFailures))\n"
        header("swproxy_cache_requests_total", "counter", "Requests on the cache path (--cache-dir), by cache status.")
        for (k, status) in Metrics.cacheStatuses.enumerated() {
            out += "swproxy_cache_requests_total{status=\"\(status.lowercased())\"} \(sum(Metrics.Slot.cacheRequests + k))\n"
        }
        header("swproxy_cache_bytes_total", "counter", "Body bytes sent from the cache's store, and fetched from upstream into it.")
        out += "swproxy_cache_bytes_total{source=\"cache\"} \(sum(Metrics.Slot.cacheBytesFromCache))\n"
        out += "swproxy_cache_bytes_total{source=\"upstream\"} \(sum(Metrics.Slot.cacheBytesFromUpstream))\n"
        header("swproxy_upstream_errors_total", "counter", "Upstream failures before a response, by kind.")
        for (k, kind) in Metrics.upstreamKinds.enumerated() {
            out += "swproxy_upstream_errors_total{kind=\"\(kind)\"} \(sum(Metrics.Slot.upstreamErrors + k))\n"
        }
        header("swproxy_request_duration_seconds", "histogram", "Time from request head to the end of the response.")
        var cumulative = 0
        for (i, bound) in Metrics.buckets.enumerated() {
            cumulative += sum(Metrics.Slot.durationBuckets + i)
            out += "swproxy_request_duration_seconds_bucket{le=\"\(format(bound))\"} \(cumulative)\n"
        }
        cumulative += sum(Metrics.Slot.durationBuckets + Metrics.buckets.count)
        out += "swproxy_request_duration_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        out += "swproxy_request_duration_seconds_sum \(format(Double(sum(Metrics.Slot.durationSumMicros)) / 1e6))\n"
        out += "swproxy_request_duration_seconds_count \(sum(Metrics.Slot.durationCount))\n"
        header("swproxy_loop_connections_active", "gauge", "Client connections open now, per event loop.")
        for l in loops {
            out += "swproxy_loop_connections_active{loop=\"\(l.loop)\"} \(l.counters.load(Metrics.Slot.connectionsActive))\n"
        }
        header("swproxy_loop_requests_total", "counter", "Requests answered, per event loop.")
        for l in loops {
            var n = 0
            for i in 0..<(Metrics.methods.count * Metrics.classes.count) { n += l.counters.load(Metrics.Slot.requests + i) }
            out += "swproxy_loop_requests_total{loop=\"\(l.loop)\"} \(n)\n"
        }
        header("swproxy_draining", "gauge", "1 while shutting down.")
        out += "swproxy_draining \(draining ? 1 : 0)\n"
        return out
    }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }

    /// The store's gauges (shared by every loop).
    static func cache(_ store: CacheStore) -> String {
        let s = store.stats
        return "# HELP swproxy_cache_entries Entries in the cache's store.\n# TYPE swproxy_cache_entries gauge\n"
            + "swproxy_cache_entries \(s.entries)\n"
            + "# HELP swproxy_cache_store_bytes Bytes of the cache's store on disk.\n# TYPE swproxy_cache_store_bytes gauge\n"
            + "swproxy_cache_store_bytes \(s.bytes)\n"
            + "# HELP swproxy_cache_evictions_total Entries evicted to keep the store under --cache-size.\n"
            + "# TYPE swproxy_cache_evictions_total counter\nswproxy_cache_evictions_total \(s.evictions)\n"
    }
}
