import SwproxyCurl
/// curl options that map onto libcurl settings of each transfer (authentication, name resolution,
/// conditions, proxies, limits), as curl(1) spells and means them.
public struct CurlSettings: Sendable, Equatable {
    /// CURLAUTH_* bits from `--basic`, `--digest`, `--ntlm`, `--negotiate` (added up), `--anyauth` (all).
    public var httpAuth: Int?
    public var proxyUser: String?
    /// CURLAUTH_* bits from the `--proxy-basic` family.
    public var proxyAuth: Int?

    /// Whether the server or the proxy is asked for more than Basic (Digest, NTLM, Negotiate): what one
    /// transfer learns there (a nonce, an authenticated connection) the next one uses, so such URLs keep
    /// their order and each starts from a reset handle, as in curl.
    public var usesStatefulAuth: Bool { (httpAuth ?? 0) & ~1 != 0 || (proxyAuth ?? 0) & ~1 != 0 }
    public var proxyTunnel = false
    public var resolve: [String] = []
    public var connectTo: [String] = []
    public var range: String?
    /// `-z`: CURL_TIMECOND_* and the time (seconds since the epoch).
    public var timeCondition: (kind: Int, time: Int64)? {
        get { timeCondKind.map { ($0, timeCondTime) } }
        set {
            timeCondKind = newValue?.kind
            timeCondTime = newValue?.time ?? 0
        }
    }
    public var timeCondKind: Int?
    public var timeCondTime: Int64 = 0
    /// CURL_NETRC_OPTIONAL (1) or _REQUIRED (2).
    public var netrc: Int?
    public var netrcFile: String?
    public var transferEncoding = false
    public var interface: String?
    /// CURL_IPRESOLVE_V4 (1) or _V6 (2).
    public var ipResolve: Int?
    public var proxyHeaders: [String] = []
    /// CURLPROXY_* from `--proxy1.0` and the `--socks` family (with the proxy they name).
    public var proxyType: Int?
    /// CURL_REDIR_POST_301/302/303 bits.
    public var postRedirect = 0
    public var http09 = false
    /// Bytes per second, both directions (`--limit-rate`).
    public var limitRate: Int64?
    /// `-D FILE`: received header lines are written there (`-` stdout).
    public var dumpHeader: String?
    /// `--location-trusted`: follow redirects and send credentials to other hosts too.
    public var locationTrusted = false
    public var requestTarget: String?
    /// `--raw`: no content or transfer decoding.
    public var raw = false
    public var maxFileSize: Int64?
    public var hstsFile: String?
    public var altSvcFile: String?
    public var haproxyProtocol = false
    public var unixSocket: String?
    public var pathAsIs = false
    public var suppressConnectHeaders = false
    public var proxyInsecure = false
    public var preProxy: String?
    public var oauth2Bearer: String?
    public var ignoreContentLength = false
    public var disallowUsernameInURL = false
    /// `--etag-save FILE`: each response's ETag is written there (`-` stdout).
    public var etagSave: String?
    /// `--etag-compare FILE`: `If-None-Match` with the ETag that file holds.
    public var etagCompare: String?
    /// `--remove-on-error`: a URL that fails loses the file it was writing.
    public var removeOnError = false
    /// `--no-clobber`: an existing output file is kept and FILE.1 … FILE.100 is written instead.
    public var noClobber = false
    /// `--form-escape`: `\\` and `"` in multipart names escaped with a backslash (else percent-encoded).
    public var formEscape = false
    public var useASCII = false
    /// `--proto`, `--proto-redir`: the protocols allowed (CURLOPT_PROTOCOLS_STR, _REDIR_PROTOCOLS_STR).
    public var protocols: String?
    public var redirectProtocols: String?
    /// `--proto-default`: the scheme of URLs given without one (fetch's default: http, as curl's).
    public var defaultProtocol: String?
    /// `-J`: a `-O` file is named by the response's Content-Disposition filename, when it has one.
    public var remoteHeaderName = false
    /// `-j`: session cookies read from files are dropped, as if a new session started.
    public var junkSessionCookies = false

    public init() {}
}

extension CurlSettings {
    /// curl's `--proto` syntax (proto2num): comma-separated protocols, each `+` (add, the default), `-`
    /// (remove) or `=` (only these), `all` for every one; applied to `initial`, the result in alphabetical
    /// order as curl writes it. Unknown protocols are warned about (and make `=` allow none).
    public static func protocolSet(_ spec: String, initial: [String], known: [String]) -> (String, [String]) {
        var set = initial
        var warnings: [String] = []
        for raw in spec.split(separator: ",") {
            var token = Substring(raw)
            var action = "+"
            while let c = token.first, !(c.isLetter || c.isNumber) {
                guard "=-+".contains(c) else {
                    warnings.append("unrecognized protocol '\(raw)'")
                    token = ""
                    break
                }
                action = String(c)
                token = token.dropFirst()
            }
            let name = token.lowercased()
            if name.isEmpty { continue }
            if name == "all" {
                set = action == "-" ? [] : known
            } else if known.contains(name) {
                switch action {
                case "-": set.removeAll { $0 == name }
                case "=": set = [name]
                default: if !set.contains(name) { set.append(name) }
                }
            } else {
                if action == "=" { set = [] }
                warnings.append("unrecognized protocol '\(name)'")
            }
        }
        return (set.sorted().joined(separator: ","), warnings)
    }

    /// `-z`: `[+-=]DATE` or a file whose modification time is used; nil (with curl's warning) when it is
    /// neither, which disables the condition.
    public static func timeCondition(_ arg: String) -> (kind: Int, time: Int64)? {
        var text = Substring(arg)
        var kind = 1  // CURL_TIMECOND_IFMODSINCE
        switch text.first {
        case "+": text = text.dropFirst()
        case "-": kind = 2; text = text.dropFirst()  // _IFUNMODSINCE
        case "=": kind = 3; text = text.dropFirst()  // _LASTMOD
        default: break
        }
        if let t = CurlDate.parse(String(text)) { return (kind, t) }
        if let m = LocalFiles.modificationTime(String(text)) { return (kind, m) }
        Console.warning("Illegal date format for -z, --time-cond (and not a file name). Disabling time condition. "
            + "See curl_getdate(3) for valid date syntax.")
        return nil
    }

    /// `--limit-rate`: bytes per second, with curl's k/m/g suffixes (powers of 1024); nil when malformed.
    public static func speed(_ text: String) -> Int64? {
        var digits = Substring(text)
        var unit: Double = 1
        switch digits.last {
        case "k", "K": unit = 1024; digits = digits.dropLast()
        case "m", "M": unit = 1024 * 1024; digits = digits.dropLast()
        case "g", "G": unit = 1024 * 1024 * 1024; digits = digits.dropLast()
        default: break
        }
        guard let n = Double(digits), n >= 0 else { return nil }
        return Int64(n * unit)
    }
}

/// The format of `--trace` (hex and ASCII) and `--trace-ascii`.
public enum TraceStyle: Sendable, Equatable {
    case binary, ascii
}

/// Everything `swproxy fetch` was asked to do, as plain values (the CLI fills it, the runner reads it).
/// Names and meanings follow curl(1).
public struct FetchOptions: Sendable, Equatable {
    /// Where one URL's body goes, in the order `-o`/`-O` were given.
    public enum OutputSpec: Sendable, Equatable {
        case file(String)
        case remoteName
        /// `--no-remote-name`: this URL is not named after the remote file (`--remote-name-all` undone).
        case noRemoteName
    }

    /// One `-d`-family argument, in the order given.
    public enum DataItem: Sendable, Equatable {
        /// `-d/--data`, `--data-ascii`: `@file` read with CR and LF removed.
        case ascii(String)
        /// `--data-binary`: `@file` read as is.
        case binary(String)
        /// `--data-raw`: no `@` interpretation.
        case raw(String)
        /// `--data-urlencode`: `content`, `=content`, `name=content`, `@file`, `name@file`.
        case urlencode(String)
        /// `--json`: like `--data-binary`, concatenated without `&`.
        case json(String)
    }

    /// One `-F` (parsed: `@file`, `<file`, `;type=` …) or `--form-string` (literal) argument.
    public struct FormSpec: Sendable, Equatable {
        public var text: String
        public var literal: Bool
        public init(_ text: String, literal: Bool = false) {
            self.text = text
            self.literal = literal
        }
    }

    public enum HTTPVersion: Int, Sendable {
        case v1_0 = 1, v1_1 = 2, v2 = 3, v2TLS = 4, v2PriorKnowledge = 5

        /// The version the `--http…` flags given ask for: the strongest one wins, whatever the order.
        public static func chosen(http10: Bool, http11: Bool, http2: Bool, priorKnowledge: Bool) -> Self? {
            if priorKnowledge { return .v2PriorKnowledge }
            if http2 { return .v2 }
            if http11 { return .v1_1 }
            return http10 ? .v1_0 : nil
        }
    }

    // Inputs
    public var urls: [String] = []
    public var inputFiles: [String] = []
    public var globOff = false

    // Request
    public var method: String?
    public var headers: [String] = []
    public var data: [DataItem] = []
    public var get = false
    public var uploadFiles: [String] = []
    public var forms: [FormSpec] = []
    /// `--url-query`: added to each URL's query, in order.
    public var urlQuery: [String] = []
    public var userAgent: String?
    public var referer: String?
    public var user: String?
    public var cookies: [String] = []
    public var cookieJar: String?
    public var head = false
    public var compressed = false

    // Output
    public var outputs: [OutputSpec] = []
    public var remoteNameAll = false
    public var outputDir: String?
    public var createDirs = false
    public var continueAt: Int64?
    public var continueAuto = false
    public var include = false
    public var silent = false
    public var showError = false
    public var verbose = false
    /// `--trace FILE` (hex and ASCII) or `--trace-ascii FILE`: the later one given wins, over `-v` too.
    public var trace: (style: TraceStyle, path: String)? {
        get { tracePath.map { (traceStyle, $0) } }
        set {
            tracePath = newValue?.path
            traceStyle = newValue?.style ?? .ascii
        }
    }
    public var tracePath: String?
    public var traceStyle = TraceStyle.ascii
    /// `-v` came after `--trace`/`--trace-ascii`: it wins (curl warns so).
    public var traceOverridden = false
    /// `--trace-time`: each trace or verbose line starts with the time of day.
    public var traceTime = false
    public var curl = CurlSettings()
    /// `--stderr FILE`: what would go to stderr goes there instead (`-`: stdout).
    public var stderrPath: String?
    public var fail = false
    public var failWithBody = false
    public var writeOut: String?

    // Transfer
    public var location = false
    public var maxRedirects = 50
    public var parallelMax = 50
    public var retry = 0
    public var retryDelay: Double = 0
    public var retryMaxTime: Double = 0
    public var retryAllErrors = false
    public var retryConnectionRefused = false
    public var connectTimeout: Double?
    public var maxTime: Double?

    // Connection
    public var proxy: String?
    public var noProxy: String?
    public var insecure = false
    public var caCert: String?
    public var caPath: String?
    public var httpVersion: HTTPVersion?

    // Beyond curl (batch work)
    /// `--report FILE` (`-` for stdout): one JSON object per URL, then a summary.
    public var report: String?
    public var parallelMaxHost: Int?
    /// Seconds between two transfer starts (`--rate`).
    public var rateInterval: Double?
    public var failOn: StatusSet?
    public var exitSummary = false
    /// `--fail-early`: the first failed URL ends the run (transfers in flight are stopped, none start).
    public var failEarly = false
    /// `--libcurl FILE`: C source using libcurl that does the same transfers is written there.
    public var libcurl: String?
    public var stream = false
    public enum Progress: Sendable { case auto, bar, off }
    public var progress = Progress.auto
    public var dryRun = false
    public var skipExisting = false
    /// `--segments N` (1…16): the body over up to N range transfers at once, with a resumable sidecar (nil:
    /// one ordinary transfer, as curl).
    public var segments: Int?
    /// `--min-segment-size`: no segment is cut smaller (default 4 MiB).
    public var minSegmentSize: Int64 = 4 << 20
    /// `--checksum ALG=HEX`: the digest the body must have.
    public var checksum: Checksum?
    /// `--keep-bad`: a file whose checksum is wrong is kept (else removed).
    public var keepBad = false

    /// Memory a stdout body may take while it waits for its turn before it spills to a temporary file.
    public var stdoutMemoryLimit = 8 << 20

    public init() {}
}

extension FetchOptions {
    /// `--next` steps: the options curl keeps for the whole run (output and trace settings, parallelism, the
    /// batch report) are global: wherever given, they hold for every step (a later step's value wins). Each
    /// step gets them; everything else stays its own.
    public static func sharingGlobals(_ steps: [FetchOptions]) -> [FetchOptions] {
        guard var g = steps.first, steps.count > 1 else { return steps }
        for s in steps.dropFirst() {
            for f in globalFields { f.take(&g, s) }
        }
        return steps.map { s in
            var s = s
            for f in globalFields { f.copy(&s, g) }
            return s
        }
    }

    /// One global option: how a step's value is taken (when it is not the default) and handed to a step.
    private struct GlobalField: Sendable {
        let take: @Sendable (inout FetchOptions, FetchOptions) -> Void
        let copy: @Sendable (inout FetchOptions, FetchOptions) -> Void

        init<T: Equatable & Sendable>(_ kp: WritableKeyPath<FetchOptions, T> & Sendable) {
            let d = FetchOptions()[keyPath: kp]
            take = { g, s in if s[keyPath: kp] != d { g[keyPath: kp] = s[keyPath: kp] } }
            copy = { s, g in s[keyPath: kp] = g[keyPath: kp] }
        }

        /// `--trace FILE` and `--trace-ascii FILE`: the path and its style go together.
        static let trace = GlobalField(
            take: { g, s in if let p = s.tracePath { g.tracePath = p; g.traceStyle = s.traceStyle } },
            copy: { s, g in s.tracePath = g.tracePath; s.traceStyle = g.traceStyle })

        private init(take: @escaping @Sendable (inout FetchOptions, FetchOptions) -> Void,
                     copy: @escaping @Sendable (inout FetchOptions, FetchOptions) -> Void) {
            self.take = take
            self.copy = copy
        }
    }

    private static let globalFields: [GlobalField] = [
        GlobalField(\.silent), GlobalField(\.showError), GlobalField(\.verbose), .trace, GlobalField(\.traceTime),
        GlobalField(\.traceOverridden), GlobalField(\.stderrPath), GlobalField(\.parallelMax),
        GlobalField(\.parallelMaxHost), GlobalField(\.rateInterval), GlobalField(\.report),
        GlobalField(\.exitSummary), GlobalField(\.progress), GlobalField(\.dryRun), GlobalField(\.failEarly),
        GlobalField(\.libcurl),
    ]
}
