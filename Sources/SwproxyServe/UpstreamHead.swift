import SwproxyHTTP
import SwproxyLoop

/// The header fields a request carries upstream, built from the client's head: its fields in order and
/// case minus hop-by-hop ones, `Max-Forwards` decremented, plus this hop's `Via` and `X-Forwarded-For`, and
/// in reverse mode `X-Forwarded-Proto`, `X-Forwarded-Host` and `Forwarded`. Pure: values in, values out.
/// - SeeAlso: RFC 9110 §7.6 (intermediaries), RFC 7239 (Forwarded)
struct UpstreamHead {
    /// Held by reference: a copy of the configuration per request costs a retain and a release per field.
    let settings: ConfigSnapshot
    let head: RequestHead
    /// The client's address (from PROXY protocol when that is on).
    let client: SocketAddress?
    /// `client` as text (made once per connection).
    let clientHost: String

    /// Whether this request is reverse-proxied onto `--reverse` (origin-form).
    var isReverse: Bool {
        if case .origin = head.target { return settings.value.reverse != nil }
        return false
    }

    /// The forwarded fields. `Host` and `Content-Length` are left out (libcurl writes them from the URL and
    /// the body) unless `--preserve-host`; `upgrade` keeps `Upgrade` and asks for it in `Connection`.
    func fields(upgrade: Bool = false) -> [HeaderField] {
        var out: [HeaderField] = []
        var via: [String] = []
        var xff: [String] = []
        var forwarded: [String] = []
        let reverse = isReverse
        for f in HopByHop.filter(head.fields, connectionTokens: head.connectionTokens) {
            if f.isNamed("host") || f.isNamed("content-length") { continue }
            if f.isNamed("via") { via.append(f.value); continue }
            if f.isNamed("x-forwarded-for") { xff.append(f.value); continue }
            if reverse {
                // At the edge these describe this hop: the client's own claims are replaced.
                if f.isNamed("x-forwarded-proto") || f.isNamed("x-forwarded-host") { continue }
                if f.isNamed("forwarded") { forwarded.append(f.value); continue }
            }
            if f.isNamed("max-forwards"), let decremented = Policy.decrementedMaxForwards(head) {
                out.append(HeaderField(f.name, decremented))
                continue
            }
            out.append(f)
        }
        if reverse && settings.value.preserveHost, let h = head.field("host") { out.insert(HeaderField("Host", h), at: 0) }
        if upgrade, let u = head.field("upgrade") {
            out.append(HeaderField("Connection", "Upgrade"))
            out.append(HeaderField("Upgrade", u))
        }
        if let v = settings.viaEntry { via.append(v) }
        if !via.isEmpty { out.append(HeaderField("Via", via.joined(separator: ", "))) }
        if settings.value.forwardedFor, client != nil { xff.append(clientHost) }
        if !xff.isEmpty { out.append(HeaderField("X-Forwarded-For", xff.joined(separator: ", "))) }
        if reverse {
            out.append(HeaderField("X-Forwarded-Proto", "http"))
            if let h = head.field("host") { out.append(HeaderField("X-Forwarded-Host", h)) }
            forwarded.append(forwardedElement())
            out.append(HeaderField("Forwarded", forwarded.joined(separator: ", ")))
        }
        return out
    }

    /// This hop's `Forwarded` element: `for=…;host=…;proto=http`.
    func forwardedElement() -> String {
        var parts: [String] = []
        if let c = client {
            parts.append("for=" + UpstreamHead.quoted(c.family == .v6 ? "[\(clientHost)]" : clientHost))
        } else {
            parts.append("for=unknown")
        }
        if let h = head.field("host") { parts.append("host=" + UpstreamHead.quoted(h)) }
        parts.append("proto=http")
        return parts.joined(separator: ";")
    }

    /// A value as a token when it is one, else as a quoted-string (RFC 7239 §4, RFC 9110 §5.6.4).
    static func quoted(_ v: String) -> String {
        if !v.isEmpty && v.utf8.allSatisfy(RequestHeadParser.isTokenChar) { return v }
        var out = "\""
        for c in v {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// The fields as libcurl header lines: libcurl drops `Name:` (empty) and sends `Name;` as an empty field.
    static func curlLines(_ fields: [HeaderField]) -> [String] {
        fields.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
    }
}
