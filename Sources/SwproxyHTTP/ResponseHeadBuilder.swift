/// Collects the response head libcurl hands over line by line (status line, fields, empty line), for one
/// response at a time (1xx interim responses come first, each complete).
/// - SeeAlso: RFC 9112 §4
public struct ResponseHeadBuilder: Sendable {
    public private(set) var status = 0
    public private(set) var reason = ""
    public private(set) var fields: [HeaderField] = []
    private var started = false
    /// Whether a `Date` field came (noted while the fields are read, so asking costs no scan).
    public private(set) var hasDate = false

    public init() {}

    public enum LineResult: Equatable, Sendable {
        case more
        /// The empty line: the head is complete.
        case complete
        case invalid
    }

    /// Takes one line, CRLF (or LF) included. Works on the bytes: one `String` per name and value, no
    /// `Character` walking (this runs for every field of every proxied response).
    public mutating func take(_ line: UnsafeRawBufferPointer) -> LineResult {
        var end = line.count
        while end > 0 && (line[end - 1] == 10 || line[end - 1] == 13) { end -= 1 }
        if !started {
            // "HTTP/1.1 200 OK", "HTTP/2 200"
            guard end >= 12 || (end >= 10 && line[5] == 50),  // "HTTP/x 200" at least
                line[0] == 72, line[1] == 84, line[2] == 84, line[3] == 80, line[4] == 47  // "HTTP/"
            else { return .invalid }
            var sp = 5
            while sp < end && line[sp] != 32 { sp += 1 }
            guard sp + 4 <= end, (sp + 4 == end || line[sp + 4] == 32) else { return .invalid }
            var code = 0
            for i in (sp + 1)..<(sp + 4) {
                let d = line[i]
                guard d >= 48 && d <= 57 else { return .invalid }
                code = code * 10 + Int(d - 48)
            }
            guard code >= 100 else { return .invalid }
            status = code
            reason = sp + 5 <= end ? ResponseHeadBuilder.text(line, sp + 5, end) : ""
            fields.reserveCapacity(16)  // grown one field at a time, an array is copied at 1, 2, 4 and 8
            started = true
            return .more
        }
        if end == 0 { return .complete }
        var colon = 0
        while colon < end && line[colon] != 58 { colon += 1 }
        guard colon > 0, colon < end else { return .invalid }
        for i in 0..<colon where !RequestHeadParser.isTokenChar(line[i]) { return .invalid }
        if colon == 4 && line[0] | 0x20 == 100 && line[1] | 0x20 == 97 && line[2] | 0x20 == 116 && line[3] | 0x20 == 101 {
            hasDate = true  // "date", any case
        }
        var vs = colon + 1
        var ve = end
        while vs < ve && (line[vs] == 32 || line[vs] == 9) { vs += 1 }
        while ve > vs && (line[ve - 1] == 32 || line[ve - 1] == 9) { ve -= 1 }
        fields.append(HeaderField(ResponseHeadBuilder.text(line, 0, colon), ResponseHeadBuilder.text(line, vs, ve)))
        return .more
    }

    @inline(__always)
    static func text(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: b[s..<e]), as: UTF8.self)
    }

    /// Appends `Date: date` to a head that came without one: a proxy with a clock records when it received
    /// such a response and appends that Date to what it forwards or stores (the receipt time is what the
    /// cache's freshness and age then count from). `date`: an IMF-fixdate, made only when needed.
    /// - SeeAlso: RFC 9110 §6.6.1
    public mutating func addDate(_ date: @autoclosure () -> String) {
        guard started, !hasDate else { return }
        fields.append(HeaderField("Date", date()))
        hasDate = true
    }

    /// Starts over for the next response (after an interim 1xx).
    public mutating func reset() {
        self = ResponseHeadBuilder()
    }

    public func field(_ lower: String) -> String? {
        fields.first(where: { $0.isNamed(lower) })?.value
    }
}

/// Serialises heads: a start line, the fields in order, the empty line. The bytes are counted first and
/// copied into an array of exactly that size (appending a `String`'s `UTF8View` to an array goes a byte at a
/// time; this runs for every proxied response).
public enum HeadWriter {
    /// `HTTP/1.1 status reason`; a standard reason phrase when `reason` is empty.
    public static func response(status: Int, reason: String, fields: [HeaderField]) -> [UInt8] {
        let phrase = reason.isEmpty ? ReasonPhrase.of(status) : reason
        return write(15 + phrase.utf8.count, fields) { w in
            w.put("HTTP/1.1 ")
            w.put(UInt8(48 + status / 100 % 10))
            w.put(UInt8(48 + status / 10 % 10))
            w.put(UInt8(48 + status % 10))
            w.put(32)
            w.put(phrase)
            w.put(13)
            w.put(10)
        }
    }

    /// `METHOD target HTTP/1.1`, for a request swproxy writes upstream itself (an Upgrade handshake).
    public static func request(method: String, target: String, fields: [HeaderField]) -> [UInt8] {
        write(method.utf8.count + target.utf8.count + 12, fields) { w in
            w.put(method)
            w.put(32)
            w.put(target)
            w.put(" HTTP/1.1\r\n")
        }
    }

    /// A start line of `lineBytes` bytes written by `startLine`, then `Name: value` lines and the empty line.
    private static func write(_ lineBytes: Int, _ fields: [HeaderField], _ startLine: (inout ByteWriter) -> Void)
        -> [UInt8]
    {
        let total = fields.reduce(lineBytes + 2) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            var w = ByteWriter(base: buffer.baseAddress!, capacity: total)
            startLine(&w)
            for f in fields {
                w.put(f.name)
                w.put(58)
                w.put(32)
                w.put(f.value)
                w.put(13)
                w.put(10)
            }
            w.put(13)
            w.put(10)
            precondition(w.written == total, "head size miscounted")
            count = total
        }
    }
}

/// Writes bytes into memory sized beforehand, never past `capacity` (a miscount traps): the one writer of
/// exact-size heads and header entries (`HeadWriter`, serve's libcurl header entries).
@frozen
public struct ByteWriter {
    public let base: UnsafeMutablePointer<UInt8>
    public let capacity: Int
    /// Bytes written so far (only `put` moves it).
    public var written = 0

    @inlinable
    public init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inlinable
    public mutating func put(_ byte: UInt8) {
        precondition(written < capacity, "size miscounted")
        base[written] = byte
        written += 1
    }

    @inlinable
    public mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { b in
            guard let p = b.baseAddress else { return }
            precondition(written + b.count <= capacity, "size miscounted")
            (base + written).initialize(from: p, count: b.count)
            written += b.count
        }
    }
}
