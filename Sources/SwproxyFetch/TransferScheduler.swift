/// Decides which URL starts next: in input order, at most `parallelMax` at once, at most `perHost` per host
/// (a URL waiting for its host does not hold back URLs for other hosts, nor take a global slot), no faster
/// than one start per `interval` seconds, and not to a host paused by `Retry-After`. Pure: the runner gives it
/// the time.
struct TransferScheduler {
    enum Decision: Equatable {
        case start(Int)
        /// Nothing may start before this time (rate limit or a paused host); ask again then.
        case wait(until: Double)
        /// Nothing can start until a transfer finishes (or nothing is left).
        case blocked
    }

    private struct HostQueue {
        var items: [Int] = []
        var head = 0
        var active = 0
        var pausedUntil = 0.0
        var isEmpty: Bool { head >= items.count }
        var first: Int? { isEmpty ? nil : items[head] }
    }

    private var queues: [String: HostQueue] = [:]
    private let hosts: [String]
    let parallelMax: Int
    let perHost: Int?
    let interval: Double?
    private var nextStart = 0.0
    private(set) var active = 0

    init(hosts: [String], parallelMax: Int, perHost: Int?, interval: Double?) {
        self.hosts = hosts
        self.parallelMax = parallelMax
        self.perHost = perHost
        self.interval = interval
        for (i, h) in hosts.enumerated() { queues[h, default: HostQueue()].items.append(i) }
    }

    var pendingCount: Int { queues.values.reduce(0) { $0 + ($1.items.count - $1.head) } }

    mutating func next(now: Double) -> Decision {
        guard active < parallelMax else { return .blocked }
        var best: (index: Int, host: String)?
        var earliestPause = Double.infinity
        for (host, q) in queues {
            guard let first = q.first else { continue }
            if let limit = perHost, q.active >= limit { continue }
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
        queues[chosen.host]!.head += 1
        queues[chosen.host]!.active += 1
        active += 1
        if let i = interval { nextStart = max(nextStart, now) + i }
        return .start(chosen.index)
    }

    /// A URL started by `next` has finished for good.
    mutating func finished(_ index: Int) {
        active -= 1
        queues[hosts[index]]!.active -= 1
    }

    /// `Retry-After`: no new transfer to this host before `until`.
    mutating func pause(host: String, until: Double) {
        queues[host, default: HostQueue()].pausedUntil = max(queues[host]?.pausedUntil ?? 0, until)
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
