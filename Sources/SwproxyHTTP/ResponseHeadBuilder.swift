/// Collects the response head libcurl hands over line by line (status line, fields, empty line), for one
/// response at a time (1xx interim responses come first, each complete).
/// - SeeAlso: RFC 9112 §4
public struct ResponseHeadBuilder: Sendable {
    public private(set) var status = 0
    public private(set) var reason = ""
    public private(set) var fields: [HeaderField] = []
    private var started = false

    public init() {}

    public enum LineResult: Equatable, Sendable {
        case more
        /// The empty line: the head is complete.
        case complete
        case invalid
    }

    /// Takes one line, CRLF (or LF) included.
    public mutating func take(_ line: UnsafeRawBufferPointer) -> LineResult {
        var end = line.count
        while end > 0 && (line[end - 1] == 10 || line[end - 1] == 13) { end -= 1 }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<end]), as: UTF8.self)
        if !started {
            // "HTTP/1.1 200 OK", "HTTP/2 200"
            let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), parts[1].utf8.count == 3, let code = Int(parts[1]),
                code >= 100, code <= 999
            else { return .invalid }
            status = code
            reason = parts.count > 2 ? String(parts[2]) : ""
            started = true
            return .more
        }
        if end == 0 { return .complete }
        guard let colon = text.firstIndex(of: ":") else { return .invalid }
        let name = String(text[..<colon])
        guard !name.isEmpty, name.utf8.allSatisfy(RequestHeadParser.isTokenChar) else { return .invalid }
        fields.append(HeaderField(name, RequestHeadParser.trimOWS(text[text.index(after: colon)...])))
        return .more
    }

    /// Starts over for the next response (after an interim 1xx).
    public mutating func reset() {
        self = ResponseHeadBuilder()
    }

    public func field(_ lower: String) -> String? {
        fields.first(where: { $0.isNamed(lower) })?.value
    }
}

/// Serialises a head: `HTTP/1.1 status reason`, fields in order, empty line.
public enum HeadWriter {
    public static func response(status: Int, reason: String, fields: [HeaderField]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += "HTTP/1.1 \(status) \(reason.isEmpty ? ReasonPhrase.of(status) : reason)\r\n".utf8
        for f in fields {
            out += f.name.utf8
            out += ": ".utf8
            out += f.value.utf8
            out += [13, 10]
        }
        out += [13, 10]
        return out
    }
}
