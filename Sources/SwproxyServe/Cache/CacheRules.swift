internal import CSystem
import Glibc
import SwproxyHTTP

/// `Cache-Control` directives of a request or a response, lowercased, with their arguments (quotes removed).
/// - SeeAlso: RFC 9111 §5.2
struct CacheDirectives: Equatable {
    private(set) var values: [String: String?] = [:]

    init(_ fields: [HeaderField]) {
        for f in fields where f.isNamed("cache-control") {
            for part in f.value.split(separator: ",") {
                let p = part.trimmingCharacters(in: " \t")
                guard !p.isEmpty else { continue }
                if let eq = p.firstIndex(of: "=") {
                    var v = String(p[p.index(after: eq)...]).trimmingCharacters(in: " \t")
                    if v.hasPrefix("\"") && v.hasSuffix("\"") && v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                    values[p[..<eq].trimmingCharacters(in: " \t").lowercased()] = v
                } else {
                    values[p.lowercased()] = .some(nil)
                }
            }
        }
    }

    func has(_ name: String) -> Bool { values[name] != nil }

    /// The argument of `name` when it has one (`no-cache="Set-Cookie"` has one: the qualified form).
    func argument(_ name: String) -> String? { values[name] ?? nil }

    /// A delta-seconds argument; nil when absent or not a number. A too-large number is the largest.
    /// - SeeAlso: RFC 9111 §1.2.2
    func seconds(_ name: String) -> Int? { argument(name).flatMap(CacheDirectives.deltaSeconds) }

    /// Delta-seconds (RFC 9111 §1.2.2): digits only, and anything above 2^31 is 2^31, so sums of them and of
    /// times never overflow (an origin's `Age: 9223372036854775807` must not stop the proxy).
    static let maxDelta = 1 << 31
    static func deltaSeconds(_ text: String) -> Int? {
        let a = text.trimmingCharacters(in: " \t")
        guard !a.isEmpty, a.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return min(Int(a) ?? maxDelta, maxDelta)
    }
}


/// HTTP dates: IMF-fixdate, and the obsolete RFC 850 and asctime forms, read; IMF-fixdate written.
/// - SeeAlso: RFC 9110 §5.6.7
enum HTTPDate {
    static func parse(_ text: String) -> Int? {
        for format in ["%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
            var t = tm()
            let end = text.withCString { csys_strptime($0, format, &t) }
            if let e = end, e.pointee == 0 { return timegm(&t) }
        }
        return nil
    }

    /// Now, as a `Date` value.
    static var current: String { format(time(nil)) }

    static func format(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, 64, "%a, %d %b %Y %H:%M:%S GMT", &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The rules of RFC 9111 for a shared cache, as pure functions over heads and times (seconds since the
/// epoch): what may be stored, how long it is fresh, how old it is, which request may reuse it.
enum CacheRules {
    /// Statuses a cache may give heuristic freshness (RFC 9110 §15.1).
    static let heuristicStatuses: Set<Int> = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]
    /// The longest heuristic lifetime given (a tenth of the time since Last-Modified, at most this).
    static let heuristicCap = 86_400

    /// Whether the request may use the cache at all (lookup and store), and why not.
    static func requestBypass(_ head: RequestHead) -> String? {
        guard head.method == "GET" || head.method == "HEAD" else { return "method" }
        guard head.framing == .none else { return "request-body" }
        if CacheDirectives(head.fields).has("no-store") { return "no-store" }
        return nil
    }

    /// Why a response to `request` may not be stored, or nil when it may. `maxObject`: the largest body.
    /// - SeeAlso: RFC 9111 §3, §3.5
    static func unstorable(request: RequestHead, status: Int, fields: [HeaderField], maxObject: UInt64,
                           responseTime: Int) -> String? {
        guard request.method == "GET" else { return "method" }
        guard status >= 200, status != 206, status != 304 else { return "status" }
        let cc = CacheDirectives(fields)
        if cc.has("no-store") || CacheDirectives(request.fields).has("no-store") { return "no-store" }
        if cc.has("private") { return "private" }
        if fields.contains(where: { $0.isNamed("set-cookie") || $0.isNamed("set-cookie2") }) { return "set-cookie" }
        if let v = field(fields, "vary"), v.split(separator: ",").contains(where: { $0.trimmingCharacters(in: " \t") == "*" }) {
            return "vary-star"
        }
        if request.field("authorization") != nil && !(cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate")) {
            return "authorization"
        }
        if let cl = field(fields, "content-length"), let n = UInt64(cl), n > maxObject { return "too-large" }
        let explicit = cc.has("s-maxage") || cc.has("max-age") || field(fields, "expires") != nil
        let heuristic = heuristicStatuses.contains(status) || cc.has("public")
        guard explicit || heuristic else { return "status" }
        let validator = field(fields, "etag") != nil || field(fields, "last-modified") != nil
        if !validator && freshnessLifetime(status: status, fields: fields, responseTime: responseTime) <= 0 && !cc.has("no-cache") { return "no-freshness" }
        if !validator && cc.has("no-cache") { return "no-freshness" }
        return nil
    }

    /// Freshness lifetime in seconds (RFC 9111 §4.2.1, §4.2.2): s-maxage, max-age, Expires − Date, or the
    /// heuristic where allowed; 0 for none. A response without a valid `Date` counts from `responseTime`, when
    /// it was received (§4.2.1, RFC 9110 §6.6.1).
    static func freshnessLifetime(status: Int, fields: [HeaderField], responseTime: Int) -> Int {
        let cc = CacheDirectives(fields)
        if let s = cc.seconds("s-maxage") { return s }
        if let m = cc.seconds("max-age") { return m }
        let date = field(fields, "date").flatMap(HTTPDate.parse) ?? responseTime
        if let e = field(fields, "expires") {
            guard let expires = HTTPDate.parse(e) else { return 0 }  // an invalid Expires is the past
            return max(0, expires - date)
        }
        guard heuristicStatuses.contains(status) || cc.has("public"),
            let lm = field(fields, "last-modified").flatMap(HTTPDate.parse), date > lm
        else { return 0 }
        return min(heuristicCap, (date - lm) / 10)
    }

    /// The current age (RFC 9111 §4.2.3) of a response received at `responseTime` for a request sent at
    /// `requestTime`.
    static func age(fields: [HeaderField], requestTime: Int, responseTime: Int, now: Int) -> Int {
        age(initialAge: initialAge(fields: fields, requestTime: requestTime, responseTime: responseTime),
            responseTime: responseTime, now: now)
    }

    /// The current age from the age at reception (`initialAge`) and the time resident since.
    static func age(initialAge: Int, responseTime: Int, now: Int) -> Int { initialAge + max(0, now - responseTime) }

    /// The age the response had when it was received (§4.2.3's `corrected_initial_age`): the current age
    /// less the time it has been resident since `responseTime`.
    static func initialAge(fields: [HeaderField], requestTime: Int, responseTime: Int) -> Int {
        let date = field(fields, "date").flatMap(HTTPDate.parse) ?? responseTime
        let ageValue = field(fields, "age").flatMap(CacheDirectives.deltaSeconds) ?? 0
        let apparent = max(0, responseTime - date)
        let corrected = ageValue + max(0, responseTime - requestTime)
        return max(apparent, corrected)
    }

    /// What a request's directives and the entry's let the cache do with a stored response.
    enum Reuse: Equatable {
        /// Serve it as it is.
        case fresh
        /// Revalidate first; `byClient`: the request asked for it (`no-cache`, `max-age`).
        case revalidate(byClient: Bool)
    }

    /// Whether the stored response (its fields, freshness lifetime and current age) may answer `request`.
    /// - SeeAlso: RFC 9111 §4, §4.2.4, §5.2.1
    static func reuse(request: RequestHead, fields: [HeaderField], lifetime: Int, age: Int) -> Reuse {
        reuse(request: request, directives: CacheDirectives(fields), lifetime: lifetime, age: age)
    }

    /// `reuse` with the stored response's directives parsed already (a stored entry keeps them).
    static func reuse(request: RequestHead, directives res: CacheDirectives, lifetime: Int, age: Int) -> Reuse {
        let req = CacheDirectives(request.fields)
        let pragmaNoCache = !request.fields.contains(where: { $0.isNamed("cache-control") })
            && (request.field("pragma")?.lowercased().contains("no-cache") ?? false)
        if req.has("no-cache") || pragmaNoCache { return .revalidate(byClient: true) }
        // max-age=0 is a reload (browsers, apt's index files): revalidate even a response not a second old.
        if let m = req.seconds("max-age"), age > m || m == 0 { return .revalidate(byClient: true) }
        // An unqualified no-cache: never reused without revalidation. (The qualified form only names fields.)
        if res.has("no-cache") && res.argument("no-cache") == nil { return .revalidate(byClient: false) }
        var fresh = lifetime - age
        if let mf = req.seconds("min-fresh") { fresh -= mf }
        if fresh > 0 { return .fresh }
        // max-stale: the client accepts a stale response, unless the origin forbids serving it stale.
        if req.has("max-stale") && !mayNotServeStale(res) {
            if let limit = req.seconds("max-stale") { if -fresh <= limit { return .fresh } } else { return .fresh }
        }
        return .revalidate(byClient: false)
    }

    /// must-revalidate, proxy-revalidate and s-maxage (§5.2.2.10) forbid serving a stale response; so does
    /// an unqualified no-cache.
    static func mayNotServeStale(_ res: CacheDirectives) -> Bool {
        res.has("must-revalidate") || res.has("proxy-revalidate") || res.has("s-maxage")
            || (res.has("no-cache") && res.argument("no-cache") == nil)
    }

    /// Whether a stored response may answer a request that carries `Authorization` (§3.5).
    static func sharedWithAuthorization(_ fields: [HeaderField]) -> Bool {
        let cc = CacheDirectives(fields)
        return cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate")
    }

    /// The fields a 304 updates a stored head with (§3.2, §4.3.4): all of the 304's, except the framing
    /// and hop-by-hop ones; the stored fields of those names are replaced.
    static func update(_ stored: [HeaderField], with notModified: [HeaderField]) -> [HeaderField] {
        let skip: Set<String> = ["content-length", "content-encoding", "transfer-encoding", "content-range"]
        let fresh = notModified.filter { f in !HopByHop.isAlways(f) && !skip.contains(f.name.lowercased()) }
        let names = Set(fresh.map { $0.name.lowercased() })
        return stored.filter { !names.contains($0.name.lowercased()) } + fresh
    }

    /// The Vary field names of a stored response, lowercased.
    static func varyNames(_ fields: [HeaderField]) -> [String] {
        fields.filter { $0.isNamed("vary") }.flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingCharacters(in: " \t").lowercased() }.filter { !$0.isEmpty }.sorted()
    }

    /// A request's values for Vary `names`, normalised (whitespace runs to one space, fields of one name joined).
    static func varyValues(_ names: [String], of request: RequestHead) -> String {
        names.map { n in
            let v = request.fields.filter { $0.isNamed(n) }.map(\.value).joined(separator: ", ")
            return n + ":" + v.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        }.joined(separator: "\n")
    }

    static func field(_ fields: [HeaderField], _ lower: String) -> String? {
        fields.first(where: { $0.isNamed(lower) })?.value
    }

    /// A strong ETag's comparison (RFC 9110 §8.8.3.2) and If-None-Match's weak one.
    static func etagMatches(_ list: String, _ etag: String, weak: Bool) -> Bool {
        let bare = { (t: String) -> String in t.hasPrefix("W/") ? String(t.dropFirst(2)) : t }
        if list.trimmingCharacters(in: " \t") == "*" { return true }
        for t in list.split(separator: ",").map({ $0.trimmingCharacters(in: " \t") }) {
            if weak { if bare(t) == bare(etag) { return true } } else if !t.hasPrefix("W/") && !etag.hasPrefix("W/") && t == etag {
                return true
            }
        }
        return false
    }

    /// Whether a client's conditional GET is satisfied by the stored response: answer it with 304.
    /// - SeeAlso: RFC 9110 §13.2.2
    static func notModified(request: RequestHead, fields: [HeaderField]) -> Bool {
        if let inm = request.field("if-none-match") {
            guard let etag = field(fields, "etag") else { return false }
            return etagMatches(inm, etag, weak: true)
        }
        if let ims = request.field("if-modified-since").flatMap(HTTPDate.parse),
            let lm = field(fields, "last-modified").flatMap(HTTPDate.parse)
        {
            return lm <= ims
        }
        return false
    }

    /// A single byte range of a `length`-byte body, as `Range` asks: nil for no (usable) range: serve the
    /// whole; `.unsatisfiable` for 416.
    enum RangeAnswer: Equatable {
        case whole
        case part(first: UInt64, last: UInt64)
        case unsatisfiable
    }

    /// - SeeAlso: RFC 9110 §14.2, §13.1.5 (If-Range)
    static func range(request: RequestHead, fields: [HeaderField], length: UInt64) -> RangeAnswer {
        guard request.method == "GET", let r = request.field("range") else { return .whole }
        if let ifRange = request.field("if-range") {
            if ifRange.hasPrefix("\"") || ifRange.hasPrefix("W/") {
                guard let etag = field(fields, "etag"), etagMatches(ifRange, etag, weak: false) else { return .whole }
            } else {
                guard let lm = field(fields, "last-modified"), lm == ifRange.trimmingCharacters(in: " \t") else { return .whole }
            }
        }
        let t = r.trimmingCharacters(in: " \t")
        guard t.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = t.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let a = spec[..<dash].trimmingCharacters(in: " \t")
        let b = spec[spec.index(after: dash)...].trimmingCharacters(in: " \t")
        if a.isEmpty {
            guard let n = UInt64(b) else { return .whole }
            if n == 0 || length == 0 { return .unsatisfiable }
            return .part(first: length - min(n, length), last: length - 1)
        }
        guard let first = UInt64(a) else { return .whole }
        let last = b.isEmpty ? nil : UInt64(b)
        if !b.isEmpty && (last == nil || last! < first) { return .whole }
        if first >= length { return .unsatisfiable }
        return .part(first: first, last: min(last ?? (length - 1), length - 1))
    }
}
