/// Hop-by-hop header fields: meaningful for one connection only, never forwarded by a proxy.
/// - SeeAlso: RFC 9110 §7.6.1; RFC 9112 §9.6 (Keep-Alive, Proxy-Connection are legacy hop-by-hop fields)
public enum HopByHop {
    public static let always: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
        "trailer", "transfer-encoding", "upgrade",
    ]

    /// Whether `f` is one of the `always` fields: dispatched on the name's length first, then compared byte
    /// by byte without case (no lowercased copies: this runs per field of every request and response).
    @inline(__always)
    public static func isAlways(_ f: HeaderField) -> Bool {
        switch f.name.utf8.count {
        case 2: return f.isNamed("te")
        case 7: return f.isNamed("trailer") || f.isNamed("upgrade")
        case 10: return f.isNamed("connection") || f.isNamed("keep-alive")
        case 16: return f.isNamed("proxy-connection")
        case 17: return f.isNamed("transfer-encoding")
        case 18: return f.isNamed("proxy-authenticate")
        case 19: return f.isNamed("proxy-authorization")
        default: return false
        }
    }

    /// The fields that remain after removing the hop-by-hop ones and every field `Connection` names, with
    /// room for the few a hop adds after them (Via, Connection, Transfer-Encoding, X-Forwarded-For…): an
    /// array grown by one field copies every field.
    public static func filter(_ fields: [HeaderField], connectionTokens: [String]) -> [HeaderField] {
        var out: [HeaderField] = []
        out.reserveCapacity(fields.count + 4)
        for f in fields where isForwarded(f, connectionTokens: connectionTokens) { out.append(f) }
        return out
    }

    /// Whether `f` goes on to the next hop: not hop-by-hop, not named by `Connection` (`connectionTokens`).
    /// For callers that take the fields one by one instead of a filtered array.
    @inline(__always)
    public static func isForwarded(_ f: HeaderField, connectionTokens: [String]) -> Bool {
        !isAlways(f) && (connectionTokens.isEmpty || !connectionTokens.contains(where: { f.isNamed($0) }))
    }

    /// Lowercased tokens of every `Connection` field in `fields`, split on commas and trimmed, on the bytes.
    public static func connectionTokens(_ fields: [HeaderField]) -> [String] {
        var out: [String] = []
        for f in fields where f.isNamed("connection") {
            var value = f.value
            value.withUTF8 { b in
                var i = 0
                while i < b.count {
                    var s = i
                    while s < b.count && (b[s] == 32 || b[s] == 9) { s += 1 }
                    var e = s
                    while e < b.count && b[e] != 44 { e += 1 }  // ','
                    var t = e
                    while t > s && (b[t - 1] == 32 || b[t - 1] == 9) { t -= 1 }
                    if t > s {
                        let token = UnsafeBufferPointer(rebasing: b[s..<t])
                        if token.contains(where: { $0 >= 65 && $0 <= 90 }) {
                            out.append(String(decoding: token.map { ascii($0) }, as: UTF8.self))
                        } else {
                            out.append(String(decoding: token, as: UTF8.self))
                        }
                    }
                    i = e + 1
                }
            }
        }
        return out
    }
}

/// Standard reason phrases, for status lines swproxy writes itself (HTTP/2 upstreams send none).
public enum ReasonPhrase {
    public static func of(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 103: return "Early Hints"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 203: return "Non-Authoritative Information"
        case 204: return "No Content"
        case 205: return "Reset Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 416: return "Range Not Satisfiable"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        case 508: return "Loop Detected"
        default: return ""
        }
    }
}
