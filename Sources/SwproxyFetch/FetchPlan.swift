import SwproxyCurl

/// Where one URL's response goes.
public enum OutputTarget: Sendable, Equatable {
    case stdout
    case file(String)
}

/// One URL to fetch, after globbing and output pairing.
public struct PlannedURL: Sendable {
    public var index: Int
    public var url: String
    public var output: OutputTarget
    public var uploadFile: String?
    /// A problem found before anything was sent (bad glob, no remote file name): the URL fails with it.
    public var failure: FetchError?
}

/// The request every URL shares: method, headers, body.
public struct RequestTemplate: Sendable {
    public var customMethod: String?
    public var noBody = false
    public var getWithData = false
    public var headers: [String] = []
    public var body: [UInt8]?
    public var forms: [MimePart] = []
}

/// The whole job: URLs in input order, the shared request, the write-out format.
public struct FetchPlan: Sendable {
    public var items: [PlannedURL]
    public var request: RequestTemplate
    public var writeOut: WriteOutFormat?
    public var warnings: [String] = []

    /// Builds the plan, reading every local input it needs now, so that a missing file fails before any
    /// transfer starts.
    public static func build(_ o: FetchOptions) throws(FetchError) -> FetchPlan {
        let files = LocalFiles()
        return try build(o, files: files)
    }

    static func build(_ o: FetchOptions, files: LocalFiles) throws(FetchError) -> FetchPlan {
        guard o.parallelMax >= 1 else {
            throw .usage("--parallel-max must be at least 1 (got \(o.parallelMax))")
        }
        guard o.maxRedirects >= -1 else { throw .usage("--max-redirs must be -1 or more") }
        guard o.retry >= 0 else { throw .usage("--retry must be 0 or more") }
        var warnings: [String] = []
        let request = try buildRequest(o, files: files)

        // URL arguments in order: command line, then input files.
        var urlArgs = o.urls
        for f in o.inputFiles {
            let text = try files.readString(f)
            for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
                let t = line.trimmingWhitespace()
                if t.isEmpty || t.hasPrefix("#") { continue }
                urlArgs.append(t)
            }
        }
        guard !urlArgs.isEmpty else { throw .usage("no URL specified") }
        if o.outputs.count > urlArgs.count {
            warnings.append("Got more output options than URLs")
        }

        var items: [PlannedURL] = []
        for (argIndex, arg) in urlArgs.enumerated() {
            let spec: FetchOptions.OutputSpec? =
                argIndex < o.outputs.count ? o.outputs[argIndex] : (o.remoteNameAll ? .remoteName : nil)
            let upload = argIndex < o.uploadFiles.count ? o.uploadFiles[argIndex] : nil
            var expansions: [(url: String, values: [String])]
            var failure: FetchError? = nil
            if o.globOff {
                expansions = [(arg, [])]
            } else {
                do {
                    expansions = try URLGlob(arg).expand()
                } catch {
                    expansions = [(arg, [])]
                    failure = FetchError(.urlMalformat, "\(error.description): \(arg)")
                }
            }
            for (url, values) in expansions {
                var u = url
                if request.getWithData, let body = request.body, !body.isEmpty {
                    u = appendQuery(u, String(decoding: body, as: UTF8.self))
                }
                if let up = upload, u.hasSuffix("/") {
                    u += up.split(separator: "/").last.map(String.init) ?? ""
                }
                var item = PlannedURL(index: items.count, url: u, output: .stdout, uploadFile: upload, failure: failure)
                if failure == nil {
                    do {
                        item.output = try outputTarget(spec, url: u, values: values, o)
                    } catch {
                        item.failure = error
                    }
                }
                items.append(item)
            }
        }

        var writeOut: WriteOutFormat? = nil
        if let w = o.writeOut {
            let text = w.hasPrefix("@") ? try files.readString(String(w.dropFirst())) : w
            let f = WriteOutFormat(text)
            for u in f.unknown { warnings.append("unknown --write-out variable: '\(u)'") }
            writeOut = f
        }
        return FetchPlan(items: items, request: request, writeOut: writeOut, warnings: warnings)
    }

    static func outputTarget(
        _ spec: FetchOptions.OutputSpec?, url: String, values: [String], _ o: FetchOptions
    ) throws(FetchError) -> OutputTarget {
        var name: String
        switch spec {
        case nil: return .stdout
        case .file(let f):
            if f == "-" { return .stdout }
            name = URLGlob.substitute(f, values: values)
        case .remoteName:
            name = remoteFileName(url)
            if name.isEmpty { throw FetchError(.writeError, "Remote file name has no length") }
        }
        if let dir = o.outputDir, !name.hasPrefix("/") {
            name = (dir.hasSuffix("/") ? dir : dir + "/") + name
        }
        return .file(name)
    }

    /// The last segment of the URL's path, without query or fragment (curl's `-O`).
    static func remoteFileName(_ url: String) -> String {
        var s = Substring(url)
        if let q = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<q] }
        if let scheme = s.firstRange(of: "://") { s = s[scheme.upperBound...] } else { return "" }
        guard let slash = s.firstIndex(of: "/") else { return "" }
        s = s[slash...]
        return String(s.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
    }

    static func appendQuery(_ url: String, _ query: String) -> String {
        var base = Substring(url)
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = base[..<hash]
        }
        return String(base) + (base.contains("?") ? "&" : "?") + query + fragment
    }

    static func buildRequest(_ o: FetchOptions, files: LocalFiles) throws(FetchError) -> RequestTemplate {
        var r = RequestTemplate()
        // Headers, with @file expanded to its lines.
        for h in o.headers {
            if h.hasPrefix("@") {
                let text = try files.readString(String(h.dropFirst()))
                for line in text.split(whereSeparator: \.isNewline) {
                    let t = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
                    if !t.isEmpty { r.headers.append(t) }
                }
            } else {
                r.headers.append(h)
            }
        }
        // Body from the -d family, in order.
        var body: [UInt8]? = nil
        var lastWasJSON = false
        var sawJSON = false
        for item in o.data {
            let (bytes, isJSON) = try dataBytes(item, files: files)
            if var b = body {
                if !(isJSON && lastWasJSON) { b.append(UInt8(ascii: "&")) }
                b += bytes
                body = b
            } else {
                body = bytes
            }
            lastWasJSON = isJSON
            sawJSON = sawJSON || isJSON
        }
        if sawJSON {
            if !hasHeader(r.headers, "content-type") { r.headers.append("Content-Type: application/json") }
            if !hasHeader(r.headers, "accept") { r.headers.append("Accept: application/json") }
        }
        for f in o.forms { r.forms.append(try parseForm(f)) }

        var methods: [String] = []
        if o.head { methods.append("HEAD") }
        if body != nil && !o.get { methods.append("POST") }
        if !r.forms.isEmpty { methods.append("POST (multipart)") }
        if !o.uploadFiles.isEmpty { methods.append("PUT") }
        if methods.count > 1 {
            throw .usage("You can only select one HTTP request method! You asked for both \(methods[0]) and \(methods[1]).")
        }
        r.noBody = o.head
        r.getWithData = o.get
        r.body = body
        r.customMethod = o.method
        return r
    }

    static func hasHeader(_ headers: [String], _ lowerName: String) -> Bool {
        headers.contains { h in
            guard let colon = h.firstIndex(where: { $0 == ":" || $0 == ";" }) else { return false }
            return h[..<colon].lowercased() == lowerName
        }
    }

    static func dataBytes(_ item: FetchOptions.DataItem, files: LocalFiles) throws(FetchError) -> ([UInt8], Bool) {
        switch item {
        case .ascii(let s):
            if s.hasPrefix("@") {
                return (try files.read(String(s.dropFirst())).filter { $0 != 13 && $0 != 10 }, false)
            }
            return (Array(s.utf8), false)
        case .binary(let s):
            return (s.hasPrefix("@") ? try files.read(String(s.dropFirst())) : Array(s.utf8), false)
        case .json(let s):
            return (s.hasPrefix("@") ? try files.read(String(s.dropFirst())) : Array(s.utf8), true)
        case .raw(let s):
            return (Array(s.utf8), false)
        case .urlencode(let s):
            if let eq = s.firstIndex(of: "=") {
                let name = s[..<eq]
                let content = urlEncode(Array(s[s.index(after: eq)...].utf8))
                return (Array((name.isEmpty ? content : name + "=" + content).utf8), false)
            }
            if let at = s.firstIndex(of: "@") {
                let name = s[..<at]
                let content = urlEncode(try files.read(String(s[s.index(after: at)...])))
                return (Array((name.isEmpty ? content : name + "=" + content).utf8), false)
            }
            return (Array(urlEncode(Array(s.utf8)).utf8), false)
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters, as `curl_easy_escape` does, and
    /// writes a space as `+`, as curl's `--data-urlencode` does since 7.86.
    static func urlEncode(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: " "):
                out.append(UInt8(ascii: "+"))
            default:
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `-F name=value`, `name=@file`, `name=<file`, each with optional `;type=` and `;filename=`.
    static func parseForm(_ spec: String) throws(FetchError) -> MimePart {
        guard let eq = spec.firstIndex(of: "=") else {
            throw .usage("Illegally formatted input field: '\(spec)'")
        }
        let name = String(spec[..<eq])
        var rest = String(spec[spec.index(after: eq)...])
        var type: String? = nil
        var filename: String? = nil
        var parts = rest.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        rest = parts.removeFirst()
        for p in parts {
            if p.hasPrefix("type=") { type = String(p.dropFirst(5)) }
            else if p.hasPrefix("filename=") { filename = String(p.dropFirst(9)) }
            else { rest += ";" + p }
        }
        let content: MimePart.Content
        if rest.hasPrefix("@") {
            let path = String(rest.dropFirst())
            guard LocalFiles.regularFileSize(path) != nil else {
                throw FetchError(.readError, "Failed to open \(path) for -F")
            }
            content = .file(path)
        } else if rest.hasPrefix("<") {
            let path = String(rest.dropFirst())
            guard LocalFiles.regularFileSize(path) != nil else {
                throw FetchError(.readError, "Failed to open \(path) for -F")
            }
            content = .fileContent(path)
        } else {
            content = .value(rest)
        }
        return MimePart(name: name, content: content, filename: filename, contentType: type)
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: {
            $0 == " " || $0 == "\t" || $0 == "\r"
        }).reversed())
    }
}
