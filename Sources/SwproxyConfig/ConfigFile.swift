/// curl's config-file syntax, shared by `fetch -K` and `serve --config`: one long option per line without
/// its dashes (dashes allowed), then optionally a value after whitespace, `=` or `:`; values in double
/// quotes take the escapes `\\ \" \t \n \r \v`; `#` starts a comment line.
/// - SeeAlso: curl(1), "-K, --config"
public enum ConfigFile {
    /// One option from a config file, with where it came from for error messages.
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var value: String?
        public var line: Int
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { file.isEmpty ? message : "\(file):\(line): \(message)" }
    }

    /// Parses the text of a config file into entries.
    public static func parse(_ text: String, file: String) throws(ParseError) -> [Entry] {
        var entries: [Entry] = []
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.last == "\r" { line = line.dropLast() }
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.first == "#" { continue }
            // The option name ends at whitespace, '=' or ':'.
            var nameEnd = line.startIndex
            while nameEnd < line.endIndex, !" \t=:".contains(line[nameEnd]) { nameEnd = line.index(after: nameEnd) }
            var name = String(line[line.startIndex..<nameEnd])
            if name.hasPrefix("--") {
                name.removeFirst(2)
            }
            var rest = line[nameEnd...].drop(while: { $0 == " " || $0 == "\t" })
            if let f = rest.first, f == "=" || f == ":" {
                rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
            }
            if name.isEmpty {
                throw ParseError(file: file, line: lineNumber, message: "missing option name")
            }
            var value: String? = nil
            if rest.first == "\"" {
                value = try unquote(rest.dropFirst(), file: file, line: lineNumber)
            } else if !rest.isEmpty {
                // Unquoted: up to the first whitespace; what follows must be a comment or nothing.
                let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
                value = String(rest[rest.startIndex..<end])
                let trailing = rest[end...].drop(while: { $0 == " " || $0 == "\t" })
                if !trailing.isEmpty && trailing.first != "#" {
                    throw ParseError(
                        file: file, line: lineNumber,
                        message: "unexpected text after the value of '\(name)' (quote values that contain spaces)")
                }
            }
            entries.append(Entry(name: name, value: value, line: lineNumber))
        }
        return entries
    }

    private static func unquote(_ s: Substring, file: String, line: Int) throws(ParseError) -> String {
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == "\"" {
                let trailing = s[s.index(after: i)...].drop(while: { $0 == " " || $0 == "\t" })
                if !trailing.isEmpty && trailing.first != "#" {
                    throw ParseError(file: file, line: line, message: "unexpected text after a quoted value")
                }
                return out
            }
            if c == "\\" {
                i = s.index(after: i)
                guard i < s.endIndex else { break }
                switch s[i] {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "v": out.append("\u{0B}")
                default: out.append(s[i])
                }
            } else {
                out.append(c)
            }
            i = s.index(after: i)
        }
        throw ParseError(file: file, line: line, message: "unterminated quoted value")
    }
}
