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
        out.reserveCapacity(head.fields.count + 4)  // Via, X-Forwarded-For, and reverse mode's three
        // Lists joined with ", " as they come (no arrays: usually there is one element, this hop's).
        var via: String?
        var xff: String?
        var forwarded: String?
        func add(_ v: String, to list: inout String?) { list = list.map { $0 + ", " + v } ?? v }
        let reverse = isReverse
        let tokens = head.connectionTokens
        for f in head.fields where HopByHop.isForwarded(f, connectionTokens: tokens) {
            if f.isNamed("host") || f.isNamed("content-length") { continue }
            if f.isNamed("via") { add(f.value, to: &via); continue }
            if f.isNamed("x-forwarded-for") { add(f.value, to: &xff); continue }
            if reverse {
                // At the edge these describe this hop: the client's own claims are replaced.
                if f.isNamed("x-forwarded-proto") || f.isNamed("x-forwarded-host") { continue }
                if f.isNamed("forwarded") { add(f.value, to: &forwarded); continue }
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
        if let v = settings.viaEntry { add(v, to: &via) }
        if let via { out.append(HeaderField("Via", via)) }
        if settings.value.forwardedFor, client != nil { add(clientHost, to: &xff) }
        if let xff { out.append(HeaderField("X-Forwarded-For", xff)) }
        if reverse {
            out.append(HeaderField("X-Forwarded-Proto", "http"))
            if let h = head.field("host") { out.append(HeaderField("X-Forwarded-Host", h)) }
            add(forwardedElement(), to: &forwarded)
            out.append(HeaderField("Forwarded", forwarded!))
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

    /// The fields as libcurl's CURLOPT_HTTPHEADER entries, in order. libcurl drops `Name:` (empty) and sends
    /// `Name;` as an empty field.
    ///
    /// libcurl 7.88 writes every entry with its own `Curl_dyn_addf("%s\r\n")` (one pass of its printf engine,
    /// about 1,200 instructions before the first byte), and looks up a dozen names in the whole list for each
    /// request (`Curl_checkheaders`, a `curl_strnequal` per name and entry). Only an entry's first name is
    /// ever looked at, so a run of fields whose names libcurl never inspects goes as one entry, its lines
    /// joined with CRLF: the same bytes on the wire, one printf pass and one list entry.
    static func curlLines(_ fields: [HeaderField]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(fields.count)
        var runStart = 0  // the current run of uninspected fields: fields[runStart..<i]
        for (i, f) in fields.enumerated() where libcurlInspects(f.name) {
            if runStart < i { out.append(entry(fields[runStart..<i])) }
            out.append(entry(fields[i..<(i + 1)]))
            runStart = i + 1
        }
        if runStart < fields.count { out.append(entry(fields[runStart...])) }
        return out
    }

    /// One CURLOPT_HTTPHEADER entry for `run`: its `Name: value` lines joined with CRLF (`Name:` for an empty
    /// value), or `Name;` for a lone field with an empty value. Made in one allocation of the exact size.
    static func entry(_ run: ArraySlice<HeaderField>) -> String {
        if run.count == 1, let f = run.first, f.value.isEmpty { return f.name + ";" }
        let size = run.reduce(2 * (run.count - 1)) { $0 + $1.name.utf8.count + 1 + ($1.value.isEmpty ? 0 : 1 + $1.value.utf8.count) }
        return String(unsafeUninitializedCapacity: size) { (buffer: UnsafeMutableBufferPointer<UInt8>) -> Int in
            var w = ByteWriter(base: buffer.baseAddress!, capacity: size)
            for (k, f) in run.enumerated() {
                if k > 0 {
                    w.put(13)
                    w.put(10)
                }
                w.put(f.name)
                w.put(58)
                if !f.value.isEmpty {
                    w.put(32)
                    w.put(f.value)
                }
            }
            return w.written
        }
    }

    /// Whether libcurl 7.88 looks for (or at) a request field of this name among CURLOPT_HTTPHEADER's
    /// entries: to leave out its own (Host, User-Agent, Accept, Referer, Cookie, Authorization, Range,
    /// Expect, Content-*, Transfer-Encoding, TE, Connection, Proxy-Connection, Alt-Used, Mime-Version, Date,
    /// the time conditions) or to skip the entry (Host, Content-Length, Connection, Authorization, Cookie).
    /// Such a field keeps an entry of its own. A name libcurl never inspects may share one.
    static func libcurlInspects(_ name: String) -> Bool {
        let f = HeaderField(name, "")
        switch name.utf8.count {
        case 2: return f.isNamed("te")
        case 4: return f.isNamed("host") || f.isNamed("date")
        case 5: return f.isNamed("range")
        case 6: return f.isNamed("accept") || f.isNamed("cookie") || f.isNamed("expect")
        case 7: return f.isNamed("referer")
        case 8: return f.isNamed("alt-used")
        case 10: return f.isNamed("connection") || f.isNamed("user-agent")
        case 12: return f.isNamed("content-type") || f.isNamed("mime-version")
        case 13: return f.isNamed("authorization") || f.isNamed("content-range") || f.isNamed("last-modified")
        case 14: return f.isNamed("content-length")
        case 15: return f.isNamed("accept-encoding")
        case 16: return f.isNamed("proxy-connection")
        case 17: return f.isNamed("transfer-encoding") || f.isNamed("if-modified-since")
        case 19: return f.isNamed("proxy-authorization") || f.isNamed("if-unmodified-since")
        default: return false
        }
    }
}
