import SwproxyConfig
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
    /// Options given on this URL's line of an input file.
    public var overrides = URLOverrides()
    /// Its `--next` step (see `FetchPlan.steps`).
    public var step = 0
    /// Its file is named after the URL (`-O`), so `-J` may name it from Content-Disposition instead.
    public var remoteName = false
}

/// Per-URL options from an input-file line (`URL<TAB>output = x<TAB>header = "X-A: 1"`).
public struct URLOverrides: Sendable, Equatable {
    public var headers: [String] = []
    public var method: String?
    public var userAgent: String?
    public var referer: String?
    public var maxTime: Double?
    public var connectTimeout: Double?
    public var body: [UInt8]?
    public var checksum: Checksum?

    public init() {}

    static let supported = [
        "output", "remote-name", "header", "request", "user-agent", "referer", "max-time", "connect-timeout", "data",
        "data-binary", "data-raw", "json", "checksum",
    ]
}

/// The request every URL shares: method, headers, body.
public struct RequestTemplate: Sendable {
    public var customMethod: String?
    public var noBody = false
    public var getWithData = false
    public var headers: [String] = []
    public var body: [UInt8]?
    public var forms: [MimePart] = []
    /// What reading the `-F` arguments had to say (curl's warnings).
    public var warnings: [String] = []
}

/// One `--next` step: its options, its request and its write-out format (a class: every URL of the step
/// holds it).
public final class PlanStep: Sendable {
    public let options: FetchOptions
    public let request: RequestTemplate
    public let writeOut: WriteOutFormat?

    init(options: FetchOptions, request: RequestTemplate, writeOut: WriteOutFormat?) {
        self.options = options
        self.request = request
        self.writeOut = writeOut
    }
}

/// The whole job: URLs in input order, each with its step (the options, request and write-out format it
/// shares with the other URLs of its `--next` group).
public struct FetchPlan: Sendable {
    public var items: [PlannedURL]
    public var steps: [PlanStep]
    public var warnings: [String] = []

    /// The first step's request (the only one without `--next`).
    public var request: RequestTemplate { steps[0].request }
    public func step(_ item: PlannedURL) -> PlanStep { steps[item.step] }

    /// Builds the plan, reading every local input it needs now, so that a missing file fails before any
    /// transfer starts.
    public static func build(_ o: FetchOptions) throws(FetchError) -> FetchPlan {
        try build(steps: [o], files: LocalFiles())
    }

    public static func build(steps: [FetchOptions]) throws(FetchError) -> FetchPlan {
        try build(steps: steps, files: LocalFiles())
    }

    static func build(_ o: FetchOptions, files: LocalFiles) throws(FetchError) -> FetchPlan {
        try build(steps: [o], files: files)
    }

    static func build(steps options: [FetchOptions], files: LocalFiles) throws(FetchError) -> FetchPlan {
        var plan = FetchPlan(items: [], steps: [])
        for o in options {
            let (items, step, warnings) = try buildStep(o, index: plan.steps.count, first: plan.items.count, files: files)
            plan.items += items
            plan.steps.append(step)
            plan.warnings += warnings
        }
        return plan
    }

    /// One step's URLs (numbered from `first`) and its shared request.
    static func buildStep(
        _ given: FetchOptions, index stepIndex: Int, first: Int, files: LocalFiles
    ) throws(FetchError) -> ([PlannedURL], PlanStep, [String]) {
        var o = given
        var rangeWarning: String?
        if let r = o.curl.range, r.first?.isNumber == true, !r.contains("-") {
            // As curl: `-r 4` means `4-`.
            guard let n = Int64(r) else { throw .usage("option --range: unsupported range point") }
            rangeWarning = "A specified range MUST include at least one dash (-). Appending one for you!"
            o.curl.range = "\(n)-"
        }
        guard o.parallelMax >= 1 else {
            throw .usage("--parallel-max must be at least 1 (got \(o.parallelMax))")
        }
        guard o.maxRedirects >= -1 else { throw .usage("--max-redirs must be -1 or more") }
        guard o.retry >= 0 else { throw .usage("--retry must be 0 or more") }
        let request = try buildRequest(o, files: files)
        var warnings = request.warnings + (rangeWarning.map { [$0] } ?? [])

        // URL arguments in order: command line, then input files (whose lines may carry options).
        struct URLArg {
            var text: String
            var spec: FetchOptions.OutputSpec?
            var upload: String?
            var overrides = URLOverrides()
            var failure: FetchError?
        }
        var urlArgs: [URLArg] = []
        for (i, u) in o.urls.enumerated() {
            urlArgs.append(URLArg(
                text: u, spec: i < o.outputs.count ? o.outputs[i] : (o.remoteNameAll ? .remoteName : nil),
                upload: i < o.uploadFiles.count ? o.uploadFiles[i] : nil))
        }
        for f in o.inputFiles {
            let text = try files.readString(f)
            var lineNumber = 0
            for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
                lineNumber += 1
                let pieces = line.split(separator: "\t", omittingEmptySubsequences: true)
                guard let first = pieces.first else { continue }
                let url = first.trimmingWhitespace()
                if url.isEmpty || url.hasPrefix("#") { continue }
                let index = urlArgs.count
                var arg = URLArg(
                    text: url, spec: index < o.outputs.count ? o.outputs[index] : (o.remoteNameAll ? .remoteName : nil),
                    upload: index < o.uploadFiles.count ? o.uploadFiles[index] : nil)
                do {
                    try applyLineOptions(pieces.dropFirst(), to: &arg.overrides, spec: &arg.spec, files: files)
                } catch {
                    arg.failure = FetchError(.failedInit, "\(f):\(lineNumber): \(error.message)")
                }
                urlArgs.append(arg)
            }
        }
        guard !urlArgs.isEmpty else { throw .usage("no URL specified") }
        if o.outputs.count > urlArgs.count {
            warnings.append("Got more output options than URLs")
        }

        var items: [PlannedURL] = []
        // What goes into every URL's query: -G's data, or --url-query's (as curl, one or the other).
        var query: String? = nil
        if request.getWithData, let body = request.body, !body.isEmpty {
            query = String(decoding: body, as: UTF8.self)
        } else if !o.urlQuery.isEmpty {
            query = try o.urlQuery.map { q throws(FetchError) in
                q.hasPrefix("+") ? String(q.dropFirst()) : String(decoding: try dataBytes(.urlencode(q), files: files).0, as: UTF8.self)
            }.joined(separator: "&")
        }
        for arg in urlArgs {
            var expansions: [(url: String, values: [String])]
            var failure: FetchError? = arg.failure
            if o.globOff || failure != nil {
                expansions = [(arg.text, [])]
            } else {
                do {
                    expansions = try URLGlob(arg.text).expand()
                } catch {
                    expansions = [(arg.text, [])]
                    failure = FetchError(.urlMalformat, "\(error.description): \(arg.text)")
                }
            }
            // -T's file names glob too: each file goes to each URL (files outermost, as curl).
            var uploads: [String?] = [arg.upload]
            if let up = arg.upload, !o.globOff, failure == nil, up != "-" {
                do { uploads = try URLGlob(up).expand().map(\.url) } catch {
                    failure = FetchError(.urlMalformat, "\(error.description): \(up)")
                }
            }
            for upload in uploads {
                for (url, values) in expansions {
                    var u = url
                    var itemFailure = failure
                    if let up = upload, up != "-" {
                        if let with = CurlURL.addingFileName(u, up) { u = with } else {
                            itemFailure = FetchError(.urlMalformat, "URL using bad/illegal format or missing URL")
                        }
                    }
                    if let q = query, itemFailure == nil {
                        if let with = CurlURL.appendingQuery(u, q) {
                            u = with
                        } else {
                            itemFailure = FetchError(.urlMalformat, "Could not parse the URL, failed to set query")
                        }
                    }
                    var item = PlannedURL(
                        index: first + items.count, url: u, output: .stdout, uploadFile: upload, failure: itemFailure)
                    item.step = stepIndex
                    item.overrides = arg.overrides
                    item.remoteName = arg.spec == .remoteName
                    if itemFailure == nil {
                        do {
                            item.output = try outputTarget(arg.spec, url: u, values: values, o)
                        } catch {
                            item.failure = error
                        }
                    }
                    items.append(item)
                }
            }
        }

        var writeOut: WriteOutFormat? = nil
        if let w = o.writeOut {
            let text = w.hasPrefix("@") ? try files.readString(String(w.dropFirst())) : w
            let f = WriteOutFormat(text)
            for u in f.unknown { warnings.append("unknown --write-out variable: '\(u)'") }
            writeOut = f
        }
        return (items, PlanStep(options: o, request: request, writeOut: writeOut), warnings)
    }

    /// Options after a URL on an input-file line, each `name = value` in the config-file syntax.
    static func applyLineOptions(
        _ pieces: ArraySlice<Substring>, to o: inout URLOverrides, spec: inout FetchOptions.OutputSpec?,
        files: LocalFiles
    ) throws(FetchError) {
        for piece in pieces {
            let entries: [ConfigFile.Entry]
            do { entries = try ConfigFile.parse(String(piece), file: "") } catch {
                throw FetchError(.failedInit, error.message)
            }
            for e in entries {
                let v = e.value ?? ""
                func seconds() throws(FetchError) -> Double {
                    guard let d = Double(v), d > 0 else { throw FetchError(.failedInit, "\(e.name) needs seconds") }
                    return d
                }
                switch e.name {
                case "output": spec = .file(v)
                case "remote-name": spec = .remoteName
                case "header": o.headers.append(v)
                case "request": o.method = v
                case "user-agent": o.userAgent = v
                case "referer": o.referer = v
                case "max-time": o.maxTime = try seconds()
                case "connect-timeout": o.connectTimeout = try seconds()
                case "checksum": o.checksum = try Checksum(parsing: v)
                case "data", "data-binary", "data-raw", "json":
                    let item: FetchOptions.DataItem =
                        e.name == "data" ? .ascii(v) : e.name == "data-binary" ? .binary(v) : e.name == "json" ? .json(v) : .raw(v)
                    o.body = try dataBytes(item, files: files).0
                    if e.name == "json" { o.headers += ["Content-Type: application/json", "Accept: application/json"] }
                default:
                    throw FetchError(
                        .failedInit,
                        "unknown per-URL option '\(e.name)' (supported: \(URLOverrides.supported.joined(separator: ", ")))")
                }
            }
        }
    }

    static func outputTarget(
        _ spec: FetchOptions.OutputSpec?, url: String, values: [String], _ o: FetchOptions
    ) throws(FetchError) -> OutputTarget {
        var name: String
        switch spec {
        case nil, .noRemoteName: return .stdout
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
        if !o.forms.isEmpty {
            var parser = FormParser(readStdin: { () throws(FetchError) in try files.read("-") })
            for f in o.forms { try parser.parse(f.text, literal: f.literal) }
            r.forms = parser.finish()
            r.warnings = parser.warnings
        }

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
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: {
            $0 == " " || $0 == "\t" || $0 == "\r"
        }).reversed())
    }
}

extension FetchPlan {
    /// `-J`: the file name of a `Content-Disposition: …; filename=NAME` field value (curl's parse_filename:
    /// quoted or up to `;`, only what follows the last `/` or `\\`); nil when there is none.
    public static func contentDispositionFilename(_ value: String) -> String? {
        var rest = Substring(value)
        while true {
            guard let f = rest.firstRange(of: "filename=") else { return nil }
            // A parameter of its own (not "xfilename="): the match starts after a non-letter.
            if f.lowerBound > rest.startIndex, rest[rest.index(before: f.lowerBound)].isLetter {
                rest = rest[f.upperBound...]
                continue
            }
            var name = rest[f.upperBound...]
            var stop: Character = ";"
            if let q = name.first, q == "\"" || q == "'" {
                stop = q
                name = name.dropFirst()
            }
            if let e = name.firstIndex(of: stop) { name = name[..<e] }
            for sep in ["/", "\\"] as [Character] {
                if let s = name.lastIndex(of: sep) {
                    name = name[name.index(after: s)...]
                    if name.isEmpty { return nil }
                }
            }
            if let e = name.firstIndex(where: \.isNewline) { name = name[..<e] }  // "\r\n" is one Character
            return name.isEmpty ? nil : String(name)
        }
    }
}
