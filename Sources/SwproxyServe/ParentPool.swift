import Synchronization
import SwproxyCurl
import SwproxyLoop

/// One request's (or tunnel's) way through the parents: the order to try them in, fixed at its first
/// attempt, and which attempt it is on.
struct ParentAttempts {
    private var order: [Int] = []
    private var attempt = 0

    /// The parent index for the current attempt (0 without parents: the router then routes direct).
    mutating func current(_ pool: ParentPool?, now: UInt64) -> Int {
        if let pool, order.isEmpty { order = pool.order(now: now) }
        return order.isEmpty ? 0 : order[attempt]
    }

    /// Another parent is left to try.
    var hasNext: Bool { attempt + 1 < order.count }

    mutating func advance() { attempt += 1 }
}

/// The `--upstream-proxy` parents and their health, shared by every loop. A parent that fails (its
/// connection refused or timed out, its TLS or SOCKS handshake failed, it closed before answering, or it
/// answered a CONNECT with a 5xx of its own) is marked down for a backoff window (1 s, doubled with each
/// failure in a row, at most 60 s); while it is down the others are tried first. When the window ends it is
/// tried again by the next request (the probe): success marks it up, failure down again for longer. A
/// request whose parent failed before any byte reached the client goes to the next parent.
final class ParentPool: Sendable {
    let parents: [UpstreamProxy]
    private let health: [Health]
    static let firstBackoff: UInt64 = 1_000_000_000
    static let longestBackoff: UInt64 = 60_000_000_000

    final class Health: Sendable {
        /// Monotonic nanoseconds until which it is down; 0 = up.
        let downUntil = Atomic<UInt64>(0)
        let failuresInARow = Atomic<Int>(0)
        let requests = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let failovers = Atomic<Int>(0)
    }

    init(_ parents: [UpstreamProxy]) {
        self.parents = parents
        health = parents.map { _ in Health() }
    }

    /// The order to try the parents in: those up in their configured order, then those down, the one whose
    /// window ends first first (so with every parent down a request still tries them all).
    func order(now: UInt64) -> [Int] {
        let until = health.map { $0.downUntil.load(ordering: .relaxed) }
        let up = parents.indices.filter { until[$0] <= now }
        let down = parents.indices.filter { until[$0] > now }.sorted { until[$0] < until[$1] }
        return up + down
    }

    func isUp(_ i: Int, now: UInt64) -> Bool { health[i].downUntil.load(ordering: .relaxed) <= now }

    func started(_ i: Int) { health[i].requests.add(1, ordering: .relaxed) }

    /// `failedOver`: the request goes on to another parent.
    func failed(_ i: Int, now: UInt64, failedOver: Bool) {
        let h = health[i]
        h.failures.add(1, ordering: .relaxed)
        if failedOver { h.failovers.add(1, ordering: .relaxed) }
        let n = h.failuresInARow.add(1, ordering: .relaxed).newValue
        let backoff = min(ParentPool.longestBackoff, ParentPool.firstBackoff << UInt64(min(n - 1, 6)))
        h.downUntil.store(now + backoff, ordering: .relaxed)
    }

    func succeeded(_ i: Int) {
        let h = health[i]
        if h.failuresInARow.load(ordering: .relaxed) != 0 { h.failuresInARow.store(0, ordering: .relaxed) }
        if h.downUntil.load(ordering: .relaxed) != 0 { h.downUntil.store(0, ordering: .relaxed) }
    }

    /// Whether a transfer's failure is the parent's (not the origin's): it could not be reached or spoken
    /// to, or it closed before any response. `connectCode`: its answer to a CONNECT (0 when none).
    static func isParentFailure(_ code: CurlCode, connectCode: Int) -> Bool {
        if connectCode >= 500 { return true }
        switch code {
        case .couldntConnect, .couldntResolveProxy, .proxy, .gotNothing, .sendError, .recvError, .operationTimedOut,
            .sslConnectError:
            return connectCode == 0 || connectCode >= 500
        default:
            return false
        }
    }

    /// Prometheus lines per parent (without credentials).
    func metricsText(now: UInt64) -> String {
        var out = "# HELP swproxy_parent_up 1 while the upstream proxy is not marked down.\n# TYPE swproxy_parent_up gauge\n"
        for (i, p) in parents.enumerated() { out += "swproxy_parent_up{parent=\"\(p.display)\"} \(isUp(i, now: now) ? 1 : 0)\n" }
        let series: [(String, String, (Health) -> Int)] = [
            ("swproxy_parent_requests_total", "Requests and tunnels sent to the upstream proxy.",
             { $0.requests.load(ordering: .relaxed) }),
            ("swproxy_parent_failures_total", "Failures of the upstream proxy itself.", { $0.failures.load(ordering: .relaxed) }),
            ("swproxy_parent_failovers_total", "Of those, requests then sent to the next upstream proxy.",
             { $0.failovers.load(ordering: .relaxed) }),
        ]
        for (name, help, value) in series {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            for (i, p) in parents.enumerated() { out += "\(name){parent=\"\(p.display)\"} \(value(health[i]))\n" }
        }
        return out
    }
}
