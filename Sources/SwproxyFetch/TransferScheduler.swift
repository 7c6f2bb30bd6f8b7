/// Decides which URL starts next: in input order, at most `parallelMax` at once, at most `perHost` per host
/// (a URL waiting for its host does not hold back URLs for other hosts, nor take a global slot), no faster
/// than one start per `interval` seconds, and not to a host paused by `Retry-After`. Three rules keep what
/// curl's one-after-another order gives scripts, without giving up running at once:
/// - **steps** (`--next` groups) run one after another: a step starts when every URL of the one before has
///   finished;
/// - **first alone**: the first URL to a connection target (its host, or the proxy it goes through) runs
///   alone; the others to that target start when it has finished, so they find its connection open (and
///   reuse it), the server's HTTP version known, its cookies stored and its authentication done;
/// - **lanes**: URLs that share state one sets and the next reads (cookies within a site, authentication
///   on a host, the server's state that requests with a body change, an output file) run one at a time,
///   in input order.
/// Pure: the runner gives it the time.
struct TransferScheduler {
    enum Decision: Equatable {
        case start(Int)
        /// Nothing may start before this time (rate limit or a paused host); ask again then.
        case wait(until: Double)
        /// Nothing can start until a transfer finishes (or nothing is left).
        case blocked
    }

    /// What the scheduler knows of one URL.
    struct Item: Equatable {
        /// Per-host limits and `Retry-After` pauses count by this (see `hostKey`).
        var host: String
        /// Where its connection goes: the host, or the proxy (the first-alone rule counts by this).
        var target: String
        /// URLs sharing a lane run one at a time, in order (none: no such state shared).
        var lanes: [String]
        /// Its `--next` step.
        var step: Int

        init(host: String, target: String? = nil, lanes: [String] = [], step: Int = 0) {
            self.host = host
            self.target = target ?? host
            self.lanes = lanes
            self.step = step
        }
    }

    private struct HostQueue {
        var items: [Int] = []
        var head = 0
        var active = 0
        var pausedUntil = 0.0
        var isEmpty: Bool { head >= items.count }
        var first: Int? { isEmpty ? nil : items[head] }
    }

    /// A connection target's first URL: running (its index), or finished.
    private enum Probe {
        case running(Int)
        case done
    }

    private var queues: [String: HostQueue] = [:]
    private let items: [Item]
    private var probes: [String: Probe] = [:]
    private var busyLanes: Set<String> = []
    /// URLs of each step not finished yet; `step` is the first step with some.
    private var unfinished: [Int]
    private var step = 0
    let parallelMax: Int
    let perHost: Int?
    let interval: Double?
    private var nextStart = 0.0
    private(set) var active = 0

    init(items: [Item], parallelMax: Int, perHost: Int?, interval: Double?) {
        self.items = items
        self.parallelMax = parallelMax
        self.perHost = perHost
        self.interval = interval
        unfinished = Array(repeating: 0, count: (items.map(\.step).max() ?? 0) + 1)
        for (i, item) in items.enumerated() {
            queues[item.host, default: HostQueue()].items.append(i)
            unfinished[item.step] += 1
        }
    }

    init(hosts: [String], parallelMax: Int, perHost: Int?, interval: Double?) {
        self.init(items: hosts.map { Item(host: $0) }, parallelMax: parallelMax, perHost: perHost, interval: interval)
    }

    var pendingCount: Int { queues.values.reduce(0) { $0 + ($1.items.count - $1.head) } }

    mutating func next(now: Double) -> Decision {
        guard active < parallelMax else { return .blocked }
        while step < unfinished.count && unfinished[step] == 0 { step += 1 }
        var best: (index: Int, host: String)?
        var earliestPause = Double.infinity
        for (host, q) in queues {
            guard let first = q.first else { continue }
            let item = items[first]
            // A queue's first URL is its lowest pending one: a later step means the whole queue waits.
            if item.step != step { continue }
            if let limit = perHost, q.active >= limit { continue }
            if case .running = probes[item.target] { continue }
            if item.lanes.contains(where: busyLanes.contains) { continue }
            if q.pausedUntil > now {
                earliestPause = min(earliestPause, q.pausedUntil)
                continue
            }
            if best == nil || first < best!.index { best = (first, host) }
        }
        guard let chosen = best else {
            return earliestPause.isFinite ? .wait(until: earliestPause) : .blocked
        }
        if interval != nil && nextStart > now { return .wait(until: nextStart) }
        let item = items[chosen.index]
        queues[chosen.host]!.head += 1
        queues[chosen.host]!.active += 1
        if probes[item.target] == nil { probes[item.target] = .running(chosen.index) }
        busyLanes.formUnion(item.lanes)
        active += 1
        if let i = interval { nextStart = max(nextStart, now) + i }
        return .start(chosen.index)
    }

    /// A URL started by `next` has finished for good.
    mutating func finished(_ index: Int) {
        let item = items[index]
        active -= 1
        queues[item.host]!.active -= 1
        unfinished[item.step] -= 1
        if case .running(index) = probes[item.target] { probes[item.target] = .done }
        busyLanes.subtract(item.lanes)
    }

    /// `Retry-After`: no new transfer to this host before `until`.
    mutating func pause(host: String, until: Double) {
        queues[host, default: HostQueue()].pausedUntil = max(queues[host]?.pausedUntil ?? 0, until)
    }

    /// The lane of cookies: the site a host belongs to, as far as cookies can cross hosts (a cookie's
    /// `Domain` is a suffix of the host that set it, and never a top-level name): the last two labels of a
    /// name (`www.example.com` and `api.example.com` share `example.com`), an IP address or a one-label name
    /// alone. Ports do not separate cookies.
    static func cookieSite(_ hostKey: String) -> String {
        var host = Substring(hostKey)
        if host.hasPrefix("[") {  // IPv6 literal
            return String(host[...(host.firstIndex(of: "]") ?? host.index(before: host.endIndex))])
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host.hasSuffix(".") { host = host.dropLast() }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count <= 2 || labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
            return String(host)
        }
        return labels.suffix(2).joined(separator: ".")
    }

    /// The scheduling key of a URL: its host and port, lowercased, as libcurl's per-host limit counts them.
    static func hostKey(_ url: String) -> String {
        var url = url
        return url.withUTF8 { hostKey(bytes: $0) }  // bytes: this runs once per URL, 10,000s of them
    }

    private static func hostKey(bytes b: UnsafeBufferPointer<UInt8>) -> String {
        var start = 0
        if b.count >= 3 {
            for i in 0..<(b.count - 2) where b[i] == 58 && b[i + 1] == 47 && b[i + 2] == 47 {
                start = i + 3
                break
            }
        }
        var end = b.count
        for i in start..<b.count where b[i] == 47 || b[i] == 63 || b[i] == 35 {
            end = i
            break
        }
        if let at = b[start..<end].lastIndex(of: 64) { start = at + 1 }
        let host = UnsafeBufferPointer(rebasing: b[start..<end])
        if !host.contains(where: { $0 >= 65 && $0 <= 90 }) { return String(decoding: host, as: UTF8.self) }
        return String(decoding: host.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

/// `--fail-on 4xx,5xx,!404` / `500-599,429`: which HTTP statuses count as failures.
public struct StatusSet: Sendable, Equatable {
    var include: [ClosedRange<Int>] = []
    var exclude: [ClosedRange<Int>] = []

    public init(parsing text: String) throws(FetchError) {
        for raw in text.split(separator: ",") {
            var item = raw.trimmingWhitespace()
            let negate = item.hasPrefix("!")
            if negate { item.removeFirst() }
            let range: ClosedRange<Int>
            let lower = item.lowercased()
            if lower.count == 3, lower.hasSuffix("xx"), let d = Int(lower.prefix(1)), d >= 1, d <= 5 {
                range = (d * 100)...(d * 100 + 99)
            } else if let dash = item.firstIndex(of: "-"), let a = Int(item[..<dash]),
                let b = Int(item[item.index(after: dash)...]), a <= b, a >= 100, b <= 999
            {
                range = a...b
            } else if let n = Int(item), n >= 100, n <= 999 {
                range = n...n
            } else {
                throw .usage("--fail-on: '\(raw)' is not a status, a range (500-599) or a class (4xx)")
            }
            if negate { exclude.append(range) } else { include.append(range) }
        }
        if include.isEmpty && !exclude.isEmpty { include = [400...599] }
        if include.isEmpty { throw .usage("--fail-on needs at least one status") }
    }

    public func matches(_ status: Int) -> Bool {
        include.contains { $0.contains(status) } && !exclude.contains { $0.contains(status) }
    }
}

/// `--rate N/s`, `N/m`, `N/h`, `N/d`, or a bare `N` (per hour, as curl): the seconds between two starts.
public func parseRate(_ text: String) throws(FetchError) -> Double {
    let parts = text.split(separator: "/", maxSplits: 1)
    guard let first = parts.first, let n = Double(first), n > 0 else {
        throw .usage("--rate: expected N/s, N/m, N/h or N/d (got '\(text)')")
    }
    let unit: Double
    switch parts.count == 2 ? parts[1].lowercased() : "h" {
    case "s": unit = 1
    case "m": unit = 60
    case "h": unit = 3600
    case "d": unit = 86400
    default: throw .usage("--rate: unknown unit in '\(text)' (s, m, h or d)")
    }
    return unit / n
}
