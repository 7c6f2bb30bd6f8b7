/// curl's URL globbing: `{a,b,c}` sets and `[1-100]`, `[001-100]`, `[a-z]`, `[1-100:10]` ranges, expanded
/// with the first pattern varying slowest; `#N` in an output name stands for the Nth pattern's value.
/// A bracketed IPv6 address (`http://[::1]:8080/`) and an empty `[]` are not ranges.
/// - SeeAlso: curl(1), "URL"
public struct URLGlob: Sendable {
    enum Piece: Sendable {
        case literal(String)
        case set([String])
        case numbers(from: Int, to: Int, step: Int, width: Int)
        case letters(from: Character, to: Character, step: Int)
    }

    public struct GlobError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    let pieces: [Piece]

    public init(_ pattern: String) throws(GlobError) {
        pieces = try URLGlob.parse(Array(pattern))
    }

    /// Number of URLs the pattern expands to.
    public var count: Int {
        pieces.reduce(1) { acc, p in
            switch p {
            case .literal: return acc
            case .set(let s): return acc * s.count
            case .numbers(let f, let t, let st, _): return acc * ((t - f) / st + 1)
            case .letters(let f, let t, let st):
                return acc * ((Int(t.asciiValue!) - Int(f.asciiValue!)) / st + 1)
            }
        }
    }

    /// Every expansion: the URL and the values of its patterns in order (for `#N`).
    public func expand() -> [(url: String, values: [String])] {
        var results: [(String, [String])] = [("", [])]
        for p in pieces {
            let options: [String]
            switch p {
            case .literal(let s):
                results = results.map { ($0.0 + s, $0.1) }
                continue
            case .set(let s): options = s
            case .numbers(let f, let t, let st, let w):
                options = stride(from: f, through: t, by: st).map { n in
                    let s = String(n)
                    return s.count < w ? String(repeating: "0", count: w - s.count) + s : s
                }
            case .letters(let f, let t, let st):
                options = stride(from: Int(f.asciiValue!), through: Int(t.asciiValue!), by: st).map {
                    String(Character(Unicode.Scalar(UInt8($0))))
                }
            }
            var next: [(String, [String])] = []
            next.reserveCapacity(results.count * options.count)
            for r in results {
                for o in options { next.append((r.0 + o, r.1 + [o])) }
            }
            results = next
        }
        return results
    }

    /// Replaces `#1`…`#9` (and `#10`… when that many patterns exist) with pattern values.
    public static func substitute(_ template: String, values: [String]) -> String {
        if !template.utf8.contains(UInt8(ascii: "#")) { return template }  // once per URL of a batch
        var out = ""
        var chars = Array(template)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            guard c == "#", let d = chars.first, d.isASCII, d.isNumber else {
                out.append(c)
                continue
            }
            var digits = ""
            while let d = chars.first, d.isASCII, d.isNumber {
                digits.append(d)
                chars = chars.dropFirst()
            }
            if let n = Int(digits), n >= 1, n <= values.count {
                out += values[n - 1]
            } else {
                out += "#" + digits
            }
        }
        return out
    }

    private static func parse(_ s: [Character]) throws(GlobError) -> [Piece] {
        var pieces: [Piece] = []
        var literal = ""
        var i = 0
        func flush() {
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            literal = ""
        }
        while i < s.count {
            let c = s[i]
            if c == "\\" && i + 1 < s.count && "{}[],".contains(s[i + 1]) {
                literal.append(s[i + 1])
                i += 2
                continue
            }
            if c == "{" {
                guard let close = s[(i + 1)...].firstIndex(of: "}") else {
                    throw GlobError(description: "unmatched brace in URL position \(i + 1)")
                }
                let body = String(s[(i + 1)..<close])
                if body.contains("{") || body.contains("[") {
                    throw GlobError(description: "nested brace in URL position \(i + 1)")
                }
                flush()
                pieces.append(.set(body.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
                i = close + 1
                continue
            }
            if c == "[" {
                guard let close = s[(i + 1)...].firstIndex(of: "]") else {
                    throw GlobError(description: "unmatched close brace/bracket in URL position \(i + 1)")
                }
                let body = String(s[(i + 1)..<close])
                if body.isEmpty || isIPv6Literal(body) {  // `[]` and IPv6 addresses are literal, as in curl
                    literal += "[" + body + "]"
                    i = close + 1
                    continue
                }
                flush()
                pieces.append(try range(body, position: i + 1))
                i = close + 1
                continue
            }
            if c == "}" || c == "]" {
                throw GlobError(description: "unmatched close brace/bracket in URL position \(i + 1)")
            }
            literal.append(c)
            i += 1
        }
        flush()
        return pieces
    }

    private static func isIPv6Literal(_ body: String) -> Bool {
        guard body.contains(":") else { return false }
        let addr = body.split(separator: "%", maxSplits: 1).first ?? ""
        return addr.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    private static func range(_ body: String, position: Int) throws(GlobError) -> Piece {
        let bad = GlobError(description: "bad range in URL position \(position)")
        var spec = Substring(body)
        var step = 1
        if let colon = spec.firstIndex(of: ":") {
            guard let s = Int(spec[spec.index(after: colon)...]), s > 0 else { throw bad }
            step = s
            spec = spec[..<colon]
        }
        let parts = spec.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw bad }
        if let a = Int(parts[0]), let b = Int(parts[1]), parts[0].allSatisfy(\.isNumber) {
            guard a <= b, b - a < 100_000_000 else { throw bad }
            let width = parts[0].hasPrefix("0") || parts[1].hasPrefix("0") ? parts[0].count : 0
            return .numbers(from: a, to: b, step: step, width: width)
        }
        if parts[0].count == 1, parts[1].count == 1, let a = parts[0].first, let b = parts[1].first,
            a.isASCII, b.isASCII, a.isLetter, b.isLetter, a <= b, a.isUppercase == b.isUppercase
        {
            return .letters(from: a, to: b, step: step)
        }
        throw bad
    }
}
