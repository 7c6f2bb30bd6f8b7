import SwproxyLoop
import SwproxyCurl

/// curl's `-F`/`--form-string` syntax (tool_formparse.c of curl 7.88, rule for rule):
/// - `name=value`, `name=<file` (the file's content as the value), `name=@file` (a file upload);
/// - `name=@a,b,c`: several files in one field (a multipart/mixed part);
/// - after the value, `;type=major/minor[; params]`, `;filename=NAME`, `;headers=H` or `;headers=@FILE`,
///   `;encoder=E`, in any order; unknown ones are skipped with a warning;
/// - a value or name in double quotes may hold `;` and `,`, with `\"` and `\\` escaped;
/// - `name=(;type=multipart/x` … `-F =)`: a nested multipart.
/// `--form-string` takes everything after `=` literally.
struct FormParser {
    /// Where the next part goes: the form, or a nested multipart being built (innermost last).
    private var stack: [(name: String?, type: String?, headers: [String], parts: [MimePart])] = [(nil, nil, [], [])]
    private(set) var warnings: [String] = []
    let readStdin: () throws(FetchError) -> [UInt8]

    init(readStdin: @escaping () throws(FetchError) -> [UInt8]) {
        self.readStdin = readStdin
    }

    /// The finished form (open nested multiparts are closed).
    mutating func finish() -> [MimePart] {
        while stack.count > 1 { closeNested() }
        return stack[0].parts
    }

    private mutating func closeNested() {
        let top = stack.removeLast()
        var part = MimePart(name: top.name, content: .parts(top.parts), contentType: top.type)
        part.headers = top.headers
        stack[stack.count - 1].parts.append(part)
    }

    private mutating func add(_ part: MimePart) { stack[stack.count - 1].parts.append(part) }

    mutating func parse(_ spec: String, literal: Bool) throws(FetchError) {
        let bytes = Array(spec.utf8)
        guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")) else {
            warnings.append("Illegally formatted input field!")
            throw FetchError(.failedInit, "Illegally formatted input field: '\(spec)'")
        }
        let name: String? = eq > 0 ? String(decoding: bytes[..<eq], as: UTF8.self) : nil
        var p = Cursor(bytes: bytes, at: eq + 1)
        if literal {
            add(MimePart(name: name, content: .value(String(decoding: bytes[(eq + 1)...], as: UTF8.self))))
            return
        }
        if p.peek == UInt8(ascii: "(") {
            p.at += 1
            let f = try part(&p, endChar: 0)
            stack.append((name, f.type, f.headers, []))
            return
        }
        if name == nil && p.rest == [UInt8(ascii: ")")] {
            guard stack.count > 1 else {
                warnings.append("no multipart to terminate!")
                throw FetchError(.failedInit, "no multipart to terminate")
            }
            closeNested()
            return
        }
        if p.peek == UInt8(ascii: "@") {
            var files: [MimePart] = []
            var sep: UInt8 = 0
            repeat {
                p.at += 1
                let f = try part(&p, endChar: UInt8(ascii: ","))
                sep = f.sep
                files.append(try fromFile(f, name: nil, upload: true))
            } while sep != 0
            if files.count == 1 {
                files[0].name = name
                add(files[0])
            } else {
                add(MimePart(name: name, content: .parts(files)))
            }
            return
        }
        var part: MimePart
        var sep: UInt8 = 0
        if p.peek == UInt8(ascii: "<") {
            p.at += 1
            let f = try self.part(&p, endChar: 0, filename: false)
            sep = f.sep
            part = try fromFile(f, name: name, upload: false)
        } else {
            let f = try self.part(&p, endChar: 0)
            sep = f.sep
            part = MimePart(name: name, content: .value(f.data), filename: f.filename, contentType: f.type)
            part.headers = f.headers
            part.encoder = f.encoder
        }
        if sep != 0 {
            warnings.append("garbage at end of field specification: \(String(decoding: p.rest, as: UTF8.self))")
        }
        add(part)
    }

    /// A part whose data is a file (`@file`, an upload; `<file`, its content as the value) or standard input
    /// (`-`, read now), with the attributes given after it.
    private func fromFile(_ f: Fields, name: String?, upload: Bool) throws(FetchError) -> MimePart {
        var part: MimePart
        if f.data == "-" {
            part = MimePart(name: name, content: .bytes(try readStdin(), isFile: upload))
        } else {
            guard LocalFiles.regularFileSize(f.data) != nil else {
                throw FetchError(.readError, "Failed to open \(f.data) for -F")
            }
            part = MimePart(name: name, content: upload ? .file(f.data) : .fileContent(f.data))
        }
        part.filename = f.filename
        part.contentType = f.type
        part.headers = f.headers
        part.encoder = f.encoder
        return part
    }

    struct Cursor {
        var bytes: [UInt8]
        var at: Int
        var peek: UInt8 { at < bytes.count ? bytes[at] : 0 }
        var rest: ArraySlice<UInt8> { bytes[min(at, bytes.count)...] }
        mutating func skipSpaces() { while at < bytes.count && FormParser.isSpace(bytes[at]) { at += 1 } }
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }

    /// get_param_word: a word up to `;` or `endChar`, or a double-quoted one (escapes undone; what follows
    /// the closing quote up to `;`/`endChar` is dropped with a warning). Unquoted words lose trailing spaces.
    private mutating func word(_ p: inout Cursor, endChar: UInt8) -> String {
        let begin = p.at
        if p.peek == UInt8(ascii: "\"") {
            var i = begin + 1
            var out: [UInt8] = []
            while i < p.bytes.count {
                let c = p.bytes[i]
                if c == UInt8(ascii: "\\"), i + 1 < p.bytes.count,
                    p.bytes[i + 1] == UInt8(ascii: "\\") || p.bytes[i + 1] == UInt8(ascii: "\"")
                {
                    out.append(p.bytes[i + 1])
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") {
                    i += 1
                    var trailing = false
                    while i < p.bytes.count && p.bytes[i] != UInt8(ascii: ";") && p.bytes[i] != endChar {
                        if !FormParser.isSpace(p.bytes[i]) { trailing = true }
                        i += 1
                    }
                    if trailing { warnings.append("Trailing data after quoted form parameter") }
                    p.at = i
                    return String(decoding: out, as: UTF8.self)
                }
                out.append(c)
                i += 1
            }
            // No closing quote: taken as unquoted.
        }
        var i = begin
        while i < p.bytes.count && p.bytes[i] != UInt8(ascii: ";") && (endChar == 0 || p.bytes[i] != endChar) { i += 1 }
        p.at = i
        var end = i
        while end > begin && FormParser.isSpace(p.bytes[end - 1]) { end -= 1 }
        return String(decoding: p.bytes[begin..<end], as: UTF8.self)
    }

    struct Fields {
        var data = ""
        var type: String?
        var filename: String?
        var headers: [String] = []
        var encoder: String?
        /// What ended it: `;`-lists are consumed, so `endChar` (`,` between files) or 0 at the end.
        var sep: UInt8 = 0
    }

    /// get_param_part: the value, then its `;name=value` attributes.
    private mutating func part(_ p: inout Cursor, endChar: UInt8, filename allowFilename: Bool = true)
        throws(FetchError) -> Fields
    {
        var f = Fields()
        p.skipSpaces()
        f.data = word(&p, endChar: endChar)
        var sep = p.peek
        var typeEnd: Int? = nil  // the type is still open: unknown attributes are its parameters
        var typeStart = 0
        func closeType() {
            if let e = typeEnd {
                f.type = String(decoding: p.bytes[typeStart..<e], as: UTF8.self)
                typeEnd = nil
            }
        }
        /// The type runs on to the next `;` (or `endChar`), its end at the last non-space.
        func scanTypeTail() {
            while p.at < p.bytes.count && p.bytes[p.at] != UInt8(ascii: ";") && (endChar == 0 || p.bytes[p.at] != endChar) {
                if !FormParser.isSpace(p.bytes[p.at]) { typeEnd = p.at + 1 }
                p.at += 1
            }
            sep = p.peek
        }
        /// `name=WORD` (the name `length` bytes long): ends the type, returns the word.
        func attribute(_ length: Int) -> String {
            closeType()
            p.at += length
            p.skipSpaces()
            let w = word(&p, endChar: endChar)
            sep = p.peek
            return w
        }
        while sep == UInt8(ascii: ";") {
            p.at += 1
            p.skipSpaces()
            let rest = p.rest
            func has(_ prefix: String) -> Bool {
                let b = Array(prefix.utf8)
                guard rest.count >= b.count else { return false }
                return zip(rest.prefix(b.count), b).allSatisfy { ($0 | 0x20) == ($1 | 0x20) || $0 == $1 }
            }
            if typeEnd == nil && has("type=") {
                p.at += 5
                p.skipSpaces()
                typeStart = p.at
                // major/minor: no space or '/' in the major, no ';', ',', space or newline in the minor.
                var i = p.at
                while i < p.bytes.count && p.bytes[i] != UInt8(ascii: "/") && p.bytes[i] != 32 { i += 1 }
                let majorLen = i - p.at
                var j = i + 1
                while j < p.bytes.count && ![UInt8(ascii: ";"), UInt8(ascii: ","), 32, 10].contains(p.bytes[j]) { j += 1 }
                guard i < p.bytes.count, p.bytes[i] == UInt8(ascii: "/"), majorLen > 0, j > i + 1 else {
                    warnings.append("Illegally formatted content-type field!")
                    throw FetchError(.failedInit, "Illegally formatted content-type field")
                }
                p.at = j
                typeEnd = j
                scanTypeTail()
            } else if has("filename=") {
                f.filename = attribute(9)
            } else if has("headers=") {
                closeType()
                p.at += 8
                if p.peek == UInt8(ascii: "@") || p.peek == UInt8(ascii: "<") {
                    p.at += 1
                    p.skipSpaces()
                    let file = word(&p, endChar: endChar)
                    sep = p.peek
                    if let text = try? Socket.readWholeFile(file) {
                        f.headers += FormParser.fieldHeaders(text)
                    } else {
                        warnings.append("Cannot read from \(file)")
                    }
                } else {
                    p.skipSpaces()
                    f.headers.append(word(&p, endChar: endChar))
                    sep = p.peek
                }
            } else if has("encoder=") {
                f.encoder = attribute(8)
            } else if typeEnd != nil {
                // A parameter of the type (`;charset=x`).
                scanTypeTail()
            } else {
                let unknown = word(&p, endChar: endChar)
                sep = p.peek
                if !unknown.isEmpty { warnings.append("skip unknown form field: \(unknown)") }
            }
        }
        closeType()
        if !allowFilename, let name = f.filename {
            warnings.append("Field file name not allowed here: \(name)")
            f.filename = nil
        }
        f.sep = sep
        return f
    }

    /// read_field_headers: one header a line; lines starting with space continue the previous one;
    /// `#` lines are comments; CRs are dropped.
    static func fieldHeaders(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        var pos = 0
        var comment = false
        func flush() {
            while let l = current.last, isSpace(l) { current.removeLast() }
            if !current.isEmpty { out.append(String(decoding: current, as: UTF8.self)) }
            current = []
        }
        for c in bytes {
            if pos == 0 && !isSpace(c) { flush() }
            switch c {
            case 13: continue
            case 10:
                pos = 0
                comment = false
                continue
            case UInt8(ascii: "#") where pos == 0: comment = true
            default: break
            }
            pos += 1
            if !comment { current.append(c) }
        }
        flush()
        return out
    }
}
