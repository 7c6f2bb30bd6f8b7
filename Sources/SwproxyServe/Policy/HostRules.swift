/// `--allow-host`/`--deny-host`: destination host names, `example.com` or `*.example.com` (any subdomain);
/// deny wins, and with any allow rule a host must match one.
struct HostRules: Sendable {
    let allow: [String]
    let deny: [String]

    var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    func permits(_ host: String) -> Bool {
        let h = host.lowercased()
        if deny.contains(where: { HostRules.matches(h, $0) }) { return false }
        return allow.isEmpty || allow.contains(where: { HostRules.matches(h, $0) })
    }

    static func matches(_ host: String, _ pattern: String) -> Bool {
        let p = pattern.lowercased()
        if p.hasPrefix("*.") {
            let suffix = p.dropFirst(1)  // ".example.com"
            return host.hasSuffix(suffix) && host.count > suffix.count
        }
        return host == p
    }
}
