/// An incremental decoder for the chunked transfer coding: strict CRLF, at most 16 hex digits per size, and
/// the trailer section consumed (not forwarded). Any framing error is final: the connection must close.
/// - SeeAlso: RFC 9112 §7.1
public struct ChunkedDecoder: Sendable {
    enum State: Sendable, Equatable {
        case size(digits: Int, value: UInt64)
        /// Whitespace after the size (BWS): only more of it, `;` or CR may follow.
        case sizeBWS
        case extensionText
        case sizeLF(UInt64)
        case data(UInt64)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerLine
        case trailerLF
        case finalLF
        case done
    }

    private var state = State.size(digits: 0, value: 0)
    private var trailerBytes = 0
    public var maxTrailerBytes = 16384

    public init() {}

    public var isDone: Bool { state == .done }

    /// Decodes as much of `input` as it can, handing body bytes to `emit`. Returns the bytes consumed (all of
    /// them unless the body ended inside `input`).
    public mutating func decode(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void)
        throws(HTTPError) -> Int
    {
        var i = 0
        let n = input.count
        while i < n {
            let c = input[i]
            switch state {
            case .size(let digits, let value):
                if let h = ChunkedDecoder.hex(c) {
                    guard digits < 16 else { throw .bad("chunk size has more than 16 hex digits") }
                    state = .size(digits: digits + 1, value: value << 4 | UInt64(h))
                } else if digits > 0 && c == 59 {  // ';' starts the extensions
                    state = .extensionText
                    stashValue = value
                } else if digits > 0 && (c == 32 || c == 9) {  // BWS, which must lead to ';'
                    state = .sizeBWS
                    stashValue = value
                } else if digits > 0 && c == 13 {
                    state = .sizeLF(value)
                } else {
                    throw .bad("invalid chunk size")
                }
                i += 1
            case .sizeBWS:
                if c == 59 {
                    state = .extensionText
                } else if c != 32 && c != 9 {
                    throw .bad("invalid chunk size")
                }
                i += 1
            case .extensionText:
                if c == 13 {
                    state = .sizeLF(stashValue)
                } else if c == 10 || (c < 32 && c != 9) || c == 127 {
                    throw .bad("invalid chunk extension")
                }
                i += 1
            case .sizeLF(let value):
                guard c == 10 else { throw .bad("chunk size line not ended by CRLF") }
                state = value == 0 ? .trailerLineStart : .data(value)
                i += 1
            case .data(let remaining):
                let take = Int(min(remaining, UInt64(n - i)))
                emit(UnsafeRawBufferPointer(rebasing: input[i..<(i + take)]))
                i += take
                state = remaining == UInt64(take) ? .dataCR : .data(remaining - UInt64(take))
            case .dataCR:
                guard c == 13 else { throw .bad("chunk data not followed by CRLF") }
                state = .dataLF
                i += 1
            case .dataLF:
                guard c == 10 else { throw .bad("chunk data not followed by CRLF") }
                state = .size(digits: 0, value: 0)
                i += 1
            case .trailerLineStart:
                state = c == 13 ? .finalLF : .trailerLine
                if c == 10 { throw .bad("bare LF in trailer section") }
                i += 1
            case .trailerLine:
                trailerBytes += 1
                if trailerBytes > maxTrailerBytes { throw HTTPError(431, "trailer section too large") }
                if c == 13 { state = .trailerLF } else if c == 10 || c == 0 { throw .bad("invalid trailer line") }
                i += 1
            case .trailerLF:
                guard c == 10 else { throw .bad("bare CR in trailer section") }
                state = .trailerLineStart
                i += 1
            case .finalLF:
                guard c == 10 else { throw .bad("chunked body not ended by CRLF") }
                state = .done
                return i + 1
            case .done:
                return i
            }
        }
        return i
    }

    private var stashValue: UInt64 = 0

    @inline(__always)
    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }
}
