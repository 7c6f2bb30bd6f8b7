import SwproxyLoop

/// Where a request goes, as the host rules see it: the host of its target (lowercased, without brackets or a
/// trailing dot) and its port.
struct Destination: Hashable, Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    /// The host's address when it is an IP literal (matched only by address rules).
    let address: SocketAddress?

    init(host: String, port: Int) {
        // Per request: the parser already lowercased the host, so copies are made only when needed.
        var h = host.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) ? host.lowercased() : host
        if h.utf8.first == UInt8(ascii: "[") && h.utf8.last == UInt8(ascii: "]") { h = String(h.dropFirst().dropLast()) }
        while h.utf8.last == UInt8(ascii: ".") && h.utf8.count > 1 { h.removeLast() }
        self.host = h
        self.port = port
        address = SocketAddress(host: h, port: UInt16(clamping: port))
    }

    /// As an allow-list line: `host:port`, `[v6]:port` for IPv6 literals.
    var description: String { address?.family == .v6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func == (a: Destination, b: Destination) -> Bool { a.host == b.host && a.port == b.port }
    func hash(into h: inout Hasher) {
        h.combine(host)
        h.combine(port)
    }
}

/// One destination rule: `example.com`, `*.example.com` (any subdomain, not the name itself), `*` (any
/// host), an IP address or CIDR (which match IP-literal destinations only; names never match them), each
/// optionally with `:port` (`example.com:443`, `*.example.com:443`, `10.0.0.0/8:22`, `[::1]:8080`, `*:443`).
struct HostRule: Sendable, Equatable, CustomStringConvertible {
    enum Pattern: Sendable, Equatable {
        case any
        case name(String)
        /// `*.example.com`: the suffix `.example.com`.
        case subdomains(of: String)
        case network(CIDR)
    }

    let pattern: Pattern
    let port: Int?

    init(pattern: Pattern, port: Int? = nil) {
        self.pattern = pattern
        self.port = port
    }

    /// Parses one rule, or says what is wrong with it.
    static func parse(_ text: String) -> Result<HostRule, RuleError> {
        let t = text.lowercased()
        guard !t.isEmpty else { return .failure(RuleError("empty rule")) }
        var hostPart = Substring(t)
        var port: Int?
        if t.hasPrefix("[") {
            // [v6], [v6]:port, [v6/len], [v6/len]:port
            guard let close = t.firstIndex(of: "]") else { return .failure(RuleError("'\(text)': '[' without ']'")) }
            hostPart = t[t.index(after: t.startIndex)..<close]
            let rest = t[t.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else {
                    return .failure(RuleError("'\(text)': expected [ADDRESS]:PORT"))
                }
                port = p
            }
        } else if t.filter({ $0 == ":" }).count == 1 {
            // name:port, v4:port, v4/len:port (more than one colon is a bare IPv6 address)
            let parts = t.split(separator: ":", omittingEmptySubsequences: false)
            guard let p = Int(parts[1]), (1...65535).contains(p) else {
                return .failure(RuleError("'\(text)': the port must be a number from 1 to 65535"))
            }
            hostPart = parts[0]
            port = p
        }
        let host = String(hostPart)
        if host == "*" { return .success(HostRule(pattern: .any, port: port)) }
        if let c = CIDR(host) { return .success(HostRule(pattern: .network(c), port: port)) }
        if host.contains("/") || host.contains(":") {
            return .failure(RuleError("'\(text)': not an address or CIDR"))
        }
        var name = host
        var wildcard = false
        if name.hasPrefix("*.") {
            wildcard = true
            name.removeFirst(2)
        }
        while name.hasSuffix(".") { name.removeLast() }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !name.isEmpty && name.count <= 253 && labels.allSatisfy { l in
            !l.isEmpty && l.count <= 63 && l.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
        guard valid else {
            return .failure(RuleError("'\(text)': expected a host name, *.name, *, an address or CIDR, with an optional :PORT"))
        }
        return .success(HostRule(pattern: wildcard ? .subdomains(of: "." + name) : .name(name), port: port))
    }

    var description: String {
        let h: String
        switch pattern {
        case .any: h = "*"
        case .name(let n): h = n
        case .subdomains(let s): h = "*" + s
        case .network(let c):
            let bare = c.prefix == (c.network.family == .v4 ? 32 : 128) ? c.network.host : c.description
            h = c.network.family == .v6 && port != nil ? "[\(bare)]" : bare
        }
        return port.map { "\(h):\($0)" } ?? h
    }

    struct RuleError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// An allow- or deny-list file: one rule a line, `#` starts a comment, blank lines are skipped. The
    /// first bad line is an error naming `file:line`.
    static func parseFile(_ text: String, name: String) throws(RuleError) -> [HostRule] {
        var rules: [HostRule] = []
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: " \t\r")
            if trimmed.isEmpty { continue }
            switch parse(trimmed) {
            case .success(let r): rules.append(r)
            case .failure(let e): throw RuleError("\(name):\(i + 1): \(e.description)")
            }
        }
        return rules
    }
}

/// The destination rules (`--allow-host`, `--deny-host` and their files): deny wins, and with any allow rule
/// a destination must match one. Each list is indexed, so a check costs a few hash lookups whatever the
/// list's length (a 10,000-line allow-list is checked per request).
struct HostRules: Sendable {
    private let allow: RuleIndex
    private let deny: RuleIndex

    init(allow: [HostRule], deny: [HostRule]) {
        self.allow = RuleIndex(allow)
        self.deny = RuleIndex(deny)
    }

    var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    func permits(_ d: Destination) -> Bool {
        if deny.matches(d) { return false }
        return allow.isEmpty || allow.matches(d)
    }

    /// `example.com` / `*.example.com` against a host name (`--no-upstream-proxy-for`).
    static func matches(_ host: String, _ pattern: String) -> Bool {
        let p = pattern.lowercased()
        if p.hasPrefix("*.") {
            let suffix = p.dropFirst(1)  // ".example.com"
            return host.hasSuffix(suffix) && host.count > suffix.count
        }
        return host == p
    }
}

/// One list of rules, by kind: names and wildcard suffixes in hash tables (a host is looked up whole, then
/// by each of its parent domains), addresses in a short list, `*` apart.
private struct RuleIndex: Sendable {
    /// The ports a pattern matches: any, or these.
    enum Ports: Sendable {
        case any
        case only(Set<Int>)

        func contains(_ port: Int) -> Bool {
            switch self {
            case .any: return true
            case .only(let set): return set.contains(port)
            }
        }

        func adding(_ port: Int?) -> Ports {
            guard let p = port, case .only(let set) = self else { return .any }
            return .only(set.union([p]))
        }
    }

    private var names: [String: Ports] = [:]
    /// `*.example.com` under `example.com`.
    private var parents: [String: Ports] = [:]
    private var anyHost: Ports?
    /// IPv4 networks as (network, mask, port) words, compared without touching arrays; IPv6 ones as CIDRs.
    private var v4: [(UInt32, UInt32, Int?)] = []
    private var v6: [(CIDR, Int?)] = []
    let isEmpty: Bool

    init(_ rules: [HostRule]) {
        isEmpty = rules.isEmpty
        for r in rules {
            switch r.pattern {
            case .any: anyHost = (anyHost ?? .only([])).adding(r.port)
            case .name(let n): names[n] = (names[n] ?? .only([])).adding(r.port)
            case .subdomains(let suffix):
                let parent = String(suffix.dropFirst())
                parents[parent] = (parents[parent] ?? .only([])).adding(r.port)
            case .network(let c):
                if c.network.family == .v4 {
                    let mask: UInt32 = c.prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - c.prefix)
                    v4.append((RuleIndex.word(c.network.bytes) & mask, mask, r.port))
                } else {
                    v6.append((c, r.port))
                }
            }
        }
    }

    func matches(_ d: Destination) -> Bool {
        if let a = anyHost, a.contains(d.port) { return true }
        if let address = d.address {
            if address.family == .v4 {
                let a = RuleIndex.word(address.bytes)
                return v4.contains { net, mask, port in a & mask == net && (port == nil || port == d.port) }
            }
            // IPv6 (an IPv4-mapped address matches IPv4 networks, as CIDR.contains does).
            return v6.contains { c, port in (port == nil || port == d.port) && c.contains(address) }
                || v4.contains { net, mask, port in
                    (port == nil || port == d.port) && CIDR(network: net, prefixMask: mask).contains(address)
                }
        }
        if let p = names[d.host], p.contains(d.port) { return true }
        guard !parents.isEmpty else { return false }
        var rest = Substring(d.host)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let p = parents[String(rest)], p.contains(d.port) { return true }
        }
        return false
    }
}

extension RuleIndex {
    static func word(_ b: [UInt8]) -> UInt32 {
        UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }
}

extension CIDR {
    /// An IPv4 network from its word and mask (for the mapped-address path, off the hot one).
    fileprivate init(network: UInt32, prefixMask: UInt32) {
        let bytes = [UInt8(network >> 24), UInt8(network >> 16 & 0xff), UInt8(network >> 8 & 0xff), UInt8(network & 0xff)]
        self.init("\(bytes.map(String.init).joined(separator: "."))/\(prefixMask.nonzeroBitCount)")!
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
