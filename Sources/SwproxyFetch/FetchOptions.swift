/// Everything `swproxy fetch` was asked to do, as plain values (the CLI fills it, the runner reads it).
/// Names and meanings follow curl(1).
public struct FetchOptions: Sendable, Equatable {
    /// Where one URL's body goes, in the order `-o`/`-O` were given.
    public enum OutputSpec: Sendable, Equatable {
        case file(String)
        case remoteName
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
    public var forms: [String] = []
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
    public var stream = false
    public enum Progress: Sendable { case auto, bar, off }
    public var progress = Progress.auto
    public var dryRun = false
    public var skipExisting = false

    /// Memory a stdout body may take while it waits for its turn before it spills to a temporary file.
    public var stdoutMemoryLimit = 8 << 20

    public init() {}
}
