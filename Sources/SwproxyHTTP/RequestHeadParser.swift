/// The outcome of feeding bytes to the parser.
public enum ParseResult: Equatable, Sendable {
    /// The head is not complete yet.
    case needMore
    /// A complete, valid head; `consumed` bytes of the buffer belong to it (body bytes may follow).
    case head(RequestHead, consumed: Int)
    /// The head is invalid: answer with the status and close the connection.
    case invalid(HTTPError)
}

/// A strict, incremental HTTP/1.1 request-head parser. Call `parse` with everything buffered since the
/// start of the request, as often as bytes arrive; it remembers how far it has scanned, copies nothing until
/// the head is complete, and never accepts what another parser could read differently (bare CR or LF,
/// obs-fold, whitespace before a colon, ambiguous framing).
/// - SeeAlso: RFC 9112 §2–§7, RFC 9110 §5, §7.2, §8.6
public struct RequestHeadParser: Sendable {
    public var limits: HeadLimits
    private var scanned = 0
    private var firstLineEnd = -1

    public init(limits: HeadLimits = HeadLimits()) {
        self.limits = limits
    }

    /// Forgets the scan position, for the next request on the connection.
    public mutating func reset() {
        scanned = 0
        firstLineEnd = -1
    }

    public mutating func parse(_ b: UnsafeRawBufferPointer) -> ParseResult {
        let n = b.count
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        var start = 0
        while start + 1 < n && b[start] == 13 && b[start + 1] == 10 { start += 2 }
        if start < n && b[start] == 10 { return .invalid(.bad("bare LF in request head")) }
        if start >= n - 1 && start < n && b[start] == 13 { return .needMore }
        var i = max(scanned, start)
        while i < n {
            let c = b[i]
            if c == 10 {
                if i == start || b[i - 1] != 13 { return .invalid(.bad("bare LF in request head")) }
                if firstLineEnd < 0 {
                    firstLineEnd = i - 1
                } else if b[i - 2] == 10 && b[i - 3] == 13 {
                    // An empty line: the head ends at the CRLF before it.
                    return finish(b, start: start, end: i - 3, consumed: i + 1)
                }
            } else if c == 13 {
                if i + 1 >= n {
                    scanned = i
                    return limitCheck(consumedSoFar: i - start)
                }
                if b[i + 1] != 10 { return .invalid(.bad("bare CR in request head")) }
            } else if c == 0 {
                return .invalid(.bad("NUL in request head"))
            }
            i += 1
            if firstLineEnd < 0 && i - start > limits.requestLine {
                return .invalid(HTTPError(414, "request line too long"))
            }
            if i - start > limits.headerBytes + limits.requestLine {
                return .invalid(HTTPError(431, "header section too large"))
            }
        }
        scanned = i
        return limitCheck(consumedSoFar: i - start)
    }

    private func limitCheck(consumedSoFar: Int) -> ParseResult {
        if firstLineEnd < 0 && consumedSoFar > limits.requestLine {
            return .invalid(HTTPError(414, "request line too long"))
        }
        return .needMore
    }

    private func finish(_ b: UnsafeRawBufferPointer, start: Int, end: Int, consumed: Int) -> ParseResult {
        do {
            let head = try RequestHeadParser.build(b, start: start, lineEnd: firstLineEnd, end: end, limits: limits)
            return .head(head, consumed: consumed)
        } catch {
            return .invalid(error)
        }
    }

    // MARK: building the head

    static func build(_ b: UnsafeRawBufferPointer, start: Int, lineEnd: Int, end: Int, limits: HeadLimits)
        throws(HTTPError) -> RequestHead
    {
        // Request line: method SP request-target SP HTTP-version, single spaces only.
        guard let sp1 = index(of: 32, in: b, from: start, to: lineEnd),
            let sp2 = index(of: 32, in: b, from: sp1 + 1, to: lineEnd)
        else { throw .bad("malformed request line") }
        if index(of: 32, in: b, from: sp2 + 1, to: lineEnd) != nil || sp1 == start || sp2 == sp1 + 1
            || sp2 + 1 == lineEnd
        {
            throw .bad("malformed request line")
        }
        for i in start..<sp1 where !isTokenChar(b[i]) { throw .bad("invalid method") }
        for i in (sp1 + 1)..<sp2 where b[i] <= 32 || b[i] >= 127 { throw .bad("invalid request target") }
        let method = string(b, start, sp1)
        let rawTarget = string(b, sp1 + 1, sp2)
        let version = try parseVersion(b, sp2 + 1, lineEnd)

        // Header fields.
        var fields: [HeaderField] = []
        fields.reserveCapacity(12)  // grown one field at a time, an array is copied at 1, 2, 4 and 8
        var lineStart = lineEnd + 2
        if lineEnd - start > limits.requestLine { throw HTTPError(414, "request line too long") }
        if end - (lineEnd + 2) > limits.headerBytes { throw HTTPError(431, "header section too large") }
        while lineStart < end {
            guard let cr = index(of: 13, in: b, from: lineStart, to: end + 2) else { throw .bad("malformed field line") }
            if b[lineStart] == 32 || b[lineStart] == 9 { throw .bad("obsolete line folding") }
            guard let colon = index(of: 58, in: b, from: lineStart, to: cr) else { throw .bad("field line without a colon") }
            if colon == lineStart { throw .bad("empty field name") }
            for i in lineStart..<colon where !isTokenChar(b[i]) {
                throw .bad(b[i] == 32 || b[i] == 9 ? "whitespace before colon in field name" : "invalid field name")
            }
            var vs = colon + 1
            var ve = cr
            while vs < ve && (b[vs] == 32 || b[vs] == 9) { vs += 1 }
            while ve > vs && (b[ve - 1] == 32 || b[ve - 1] == 9) { ve -= 1 }
            for i in vs..<ve {
                let c = b[i]
                if c < 32 && c != 9 || c == 127 { throw .bad("invalid character in field value") }
            }
            fields.append(HeaderField(string(b, lineStart, colon), string(b, vs, ve)))
            if fields.count > limits.fieldCount { throw HTTPError(431, "too many header fields") }
            lineStart = cr + 2
        }
        return try RequestHeadParser.semantics(method: method, rawTarget: rawTarget, version: version, fields: fields)
    }

    static func semantics(method: String, rawTarget: String, version: HTTPVersion, fields: [HeaderField])
        throws(HTTPError) -> RequestHead
    {
        // Framing (RFC 9112 §6): no guessing when the message is ambiguous.
        var lengths: [String] = []
        var codings: [String] = []
        var sawTE = false
        var hosts = 0
        var connection: [String] = []
        for f in fields {
            if f.isNamed("content-length") {
                lengths += f.value.split(separator: ",", omittingEmptySubsequences: false).map { trimOWS($0) }
            } else if f.isNamed("transfer-encoding") {
                sawTE = true
                codings += f.value.split(separator: ",", omittingEmptySubsequences: false).map { trimOWS($0) }
            } else if f.isNamed("host") {
                hosts += 1
            } else if f.isNamed("connection") {
                connection += f.value.split(separator: ",").map { trimOWS($0).lowercased() }.filter { !$0.isEmpty }
            }
        }
        var framing = BodyFraming.none
        if sawTE {
            if !lengths.isEmpty { throw .bad("both Transfer-Encoding and Content-Length") }
            if version == .http10 { throw .bad("Transfer-Encoding in an HTTP/1.0 request") }
            if codings.contains(where: { $0.isEmpty }) { throw .bad("empty transfer coding") }
            guard codings.last == "chunked" else { throw .bad("final transfer coding is not chunked") }
            if codings.count > 1 {
                if codings.dropLast().contains(where: { $0.lowercased() == "chunked" }) {
                    throw .bad("chunked applied more than once")
                }
                throw HTTPError(501, "transfer coding not implemented")
            }
            framing = .chunked
        } else if !lengths.isEmpty {
            var value: UInt64? = nil
            for l in lengths {
                guard !l.isEmpty, l.utf8.count <= 18, l.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = UInt64(l)
                else { throw .bad("invalid Content-Length") }
                if let p = value, p != v { throw .bad("conflicting Content-Length values") }
                value = v
            }
            framing = .contentLength(value!)
        }
        if hosts > 1 { throw .bad("more than one Host field") }
        if hosts == 0 && version == .http11 { throw .bad("HTTP/1.1 request without Host") }

        let target: RequestTarget
        if method == "CONNECT" {
            guard let (host, port) = parseAuthority(Substring(rawTarget), defaultPort: nil) else {
                throw .bad("CONNECT needs an authority-form target (host:port)")
            }
            target = .authority(host: host, port: port)
        } else if rawTarget.hasPrefix("/") {
            target = .origin(rawTarget)
        } else if rawTarget == "*" {
            guard method == "OPTIONS" else { throw .bad("asterisk-form is for OPTIONS only") }
            target = .asterisk
        } else {
            target = try parseAbsolute(rawTarget)
        }
        return RequestHead(
            method: method, rawTarget: rawTarget, target: target, version: version, fields: fields, framing: framing,
            connectionTokens: connection)
    }

    /// `http://host[:port][/path][?query]`, no userinfo, no fragment. Parsed on the bytes (this runs for
    /// every proxied request).
    public static func parseAbsolute(_ t: String) throws(HTTPError) -> RequestTarget {
        var copy = t
        let r = copy.withUTF8 { absolute(UnsafeRawBufferPointer($0)) }
        switch r {
        case .success(let target): return target
        case .failure(let e): throw e
        }
    }

    static func absolute(_ b: UnsafeRawBufferPointer) -> Result<RequestTarget, HTTPError> {
        let n = b.count
        var sep = -1
        var i = 0
        while i + 2 < n {
            if b[i] == 58 && b[i + 1] == 47 && b[i + 2] == 47 {
                sep = i
                break
            }
            i += 1
        }
        guard sep > 0 else { return .failure(.bad("malformed request target")) }
        let defaultPort: Int
        let scheme: String
        if sep == 4 && lowerEquals(b, 0, "http") {
            (scheme, defaultPort) = ("http", 80)
        } else if sep == 5 && lowerEquals(b, 0, "https") {
            (scheme, defaultPort) = ("https", 443)
        } else {
            return .failure(.bad("unsupported scheme"))
        }
        let rest = sep + 3
        var authEnd = n
        for j in rest..<n {
            let c = b[j]
            if c == 35 { return .failure(.bad("fragment in request target")) }  // '#'
            if authEnd == n && (c == 47 || c == 63) { authEnd = j }  // '/' or '?'
            if authEnd == n && c == 64 { return .failure(.bad("userinfo in request target")) }  // '@'
        }
        guard let (host, port) = authority(b, rest, authEnd, defaultPort: defaultPort) else {
            return .failure(.bad("malformed authority in request target"))
        }
        var path = string(b, authEnd, n)
        if authEnd == n || b[authEnd] == 63 { path = "/" + path }
        return .success(.absolute(scheme: scheme, host: host, port: port, pathAndQuery: path))
    }

    /// `host:port`, `[v6]:port`; the port may be omitted only when there is a default.
    static func parseAuthority(_ a: Substring, defaultPort: Int?) -> (String, Int)? {
        var copy = String(a)
        return copy.withUTF8 { authority(UnsafeRawBufferPointer($0), 0, $0.count, defaultPort: defaultPort) }
    }

    /// The authority in `b[s..<e]`: the host lowercased (IPv6 kept in brackets) and the port.
    static func authority(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int, defaultPort: Int?) -> (String, Int)? {
        guard s < e else { return nil }
        var hostStart = s
        var hostEnd: Int
        var portStart: Int?  // index after ':'
        var bracketed = false
        if b[s] == 91 {  // '['
            guard let close = index(of: 93, in: b, from: s + 1, to: e) else { return nil }
            hostStart = s + 1
            hostEnd = close
            guard hostEnd > hostStart else { return nil }
            for k in hostStart..<hostEnd {
                let c = b[k]
                guard isHex(c) || c == 58 || c == 46 else { return nil }
            }
            if close + 1 < e {
                guard b[close + 1] == 58 else { return nil }
                portStart = close + 2
            }
            bracketed = true
        } else {
            hostEnd = e
            var k = e - 1
            while k >= s {
                if b[k] == 58 {
                    hostEnd = k
                    portStart = k + 1
                    break
                }
                k -= 1
            }
            guard hostEnd > hostStart else { return nil }
            for k in hostStart..<hostEnd where !isHostChar(b[k]) { return nil }
        }
        let port: Int
        if let p = portStart, p < e {
            guard e - p <= 5 else { return nil }
            var v = 0
            for k in p..<e {
                guard isDigit(b[k]) else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            guard v >= 1, v <= 65535 else { return nil }
            port = v
        } else {
            guard let d = defaultPort else { return nil }
            port = d
        }
        var host = [UInt8]()
        host.reserveCapacity(hostEnd - hostStart + 2)
        if bracketed { host.append(91) }
        for k in hostStart..<hostEnd { host.append(ascii(b[k])) }
        if bracketed { host.append(93) }
        return (String(decoding: host, as: UTF8.self), port)
    }

    @inline(__always)
    static func isHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) }

    /// Whether `b[s...]` is `lower` (ASCII lowercase), ignoring case.
    static func lowerEquals(_ b: UnsafeRawBufferPointer, _ s: Int, _ lower: StaticString) -> Bool {
        let n = lower.utf8CodeUnitCount
        guard s + n <= b.count else { return false }
        let p = lower.utf8Start
        for k in 0..<n where ascii(b[s + k]) != p[k] { return false }
        return true
    }

    static func parseVersion(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) throws(HTTPError) -> HTTPVersion {
        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (case-sensitive)
        guard e - s == 8, b[s] == 72, b[s + 1] == 84, b[s + 2] == 84, b[s + 3] == 80, b[s + 4] == 47,
            isDigit(b[s + 5]), b[s + 6] == 46, isDigit(b[s + 7])
        else { throw .bad("malformed HTTP version") }
        if b[s + 5] == 49 && b[s + 7] == 49 { return .http11 }
        if b[s + 5] == 49 && b[s + 7] == 48 { return .http10 }
        throw HTTPError(505, "HTTP version not supported")
    }

    @inline(__always)
    static func index(of byte: UInt8, in b: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        var i = from
        while i < to {
            if b[i] == byte { return i }
            i += 1
        }
        return nil
    }

    @inline(__always)
    static func string(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: b[s..<e]), as: UTF8.self)
    }

    public static func trimOWS(_ s: Substring) -> String {
        var v = s
        while let f = v.first, f == " " || f == "\t" { v = v.dropFirst() }
        while let l = v.last, l == " " || l == "\t" { v = v.dropLast() }
        return String(v)
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// tchar (RFC 9110 §5.6.2).
    @inline(__always)
    public static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: return true
        case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: return true
        default: return false
        }
    }

    /// reg-name characters we accept in a host (unreserved and '%' for pct-encoding; no sub-delims tricks).
    @inline(__always)
    static func isHostChar(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122, 45, 46, 95, 126: return true
        default: return false
        }
    }
}
