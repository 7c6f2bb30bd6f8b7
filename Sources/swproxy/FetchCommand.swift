import ArgumentParser
import SwproxyConfig
import SwproxyFetch

/// `swproxy fetch`: declarations only (help, completions, man page come from here); the work is in
/// SwproxyFetch. Option names, meanings and exit codes follow curl(1).
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch URLs concurrently, curl-compatible.",
        discussion: """
            Every URL is a transfer on one libcurl multi handle; up to --parallel-max run at once. Bodies written \
            to standard output come out whole and in input order. The exit status is curl's code for the first \
            failed URL in input order (22 for HTTP errors with -f), 0 when all succeed, 2 for a usage error. \
            As in curl, a flag can be switched off with its --no- form (--no-silent after a -K file that sets \
            silent).
            """)

    @OptionGroup(title: "Request") var request: FetchRequestOptions
    @OptionGroup(title: "Output") var output: FetchOutputOptions
    @OptionGroup(title: "Transfer") var transfer: FetchTransferOptions
    @OptionGroup(title: "Connection") var connection: FetchConnectionOptions

    @Argument(help: "URLs to fetch; curl's globbing ([1-100], {a,b}) applies unless -g.")
    var urls: [String] = []

    /// The curl-style syntax (short letters, valued options), shared with the direct mapping in SwproxyFetch.
    static var syntax: ArgumentSyntax { FetchArguments.syntax }

    /// The options as values, with the order of `-o`/`-O` and of the `-d` family taken from the tokens.
    func makeOptions(tokens: [String]) throws -> FetchOptions {
        var o = FetchOptions()
        let syntax = FetchCommand.syntax
        o.urls = request.url + urls
        o.inputFiles = request.inputFile
        o.globOff = request.globoff
        o.method = request.request
        o.headers = request.header
        o.get = request.get
        o.uploadFiles = request.uploadFile
        o.forms = request.form
        o.userAgent = request.userAgent
        o.referer = request.referer
        o.user = request.user
        o.cookies = request.cookie
        o.cookieJar = request.cookieJar
        o.head = request.head
        o.compressed = request.compressed
        for (name, value) in syntax.ordered(
            tokens, names: ["data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "json"])
        {
            let v = value ?? ""
            switch name {
            case "data", "data-ascii": o.data.append(.ascii(v))
            case "data-binary": o.data.append(.binary(v))
            case "data-raw": o.data.append(.raw(v))
            case "data-urlencode": o.data.append(.urlencode(v))
            default: o.data.append(.json(v))
            }
        }
        for (name, value) in syntax.ordered(tokens, names: ["output", "remote-name"]) {
            o.outputs.append(name == "output" ? .file(value ?? "") : .remoteName)
        }
        o.remoteNameAll = output.remoteNameAll
        o.outputDir = output.outputDir
        o.createDirs = output.createDirs
        if let c = output.continueAt {
            if c == "-" {
                o.continueAuto = true
            } else if let n = Int64(c), n >= 0 {
                o.continueAt = n
            } else {
                throw ValidationError("option --continue-at: expected a proper numerical parameter")
            }
        }
        o.include = output.include
        o.silent = output.silent
        o.showError = output.showError
        o.verbose = output.verbose
        o.fail = output.fail
        o.failWithBody = output.failWithBody
        o.writeOut = output.writeOut
        o.location = transfer.location
        o.maxRedirects = transfer.maxRedirs
        o.parallelMax = transfer.parallelMax
        o.retry = transfer.retry
        o.retryDelay = transfer.retryDelay
        o.retryMaxTime = transfer.retryMaxTime
        o.retryAllErrors = transfer.retryAllErrors
        o.retryConnectionRefused = transfer.retryConnrefused
        o.connectTimeout = transfer.connectTimeout
        o.maxTime = transfer.maxTime
        o.proxy = connection.proxy
        o.noProxy = connection.noproxy
        o.insecure = connection.insecure
        o.caCert = connection.cacert
        o.caPath = connection.capath
        o.report = output.report
        o.exitSummary = output.exitSummary
        o.stream = output.stream || output.noBuffer
        o.dryRun = request.dryRun
        o.skipExisting = output.skipExisting
        if output.noProgressMeter { o.progress = .off } else if output.progressBar { o.progress = .bar }
        if let f = output.failOn { o.failOn = try StatusSet(parsing: f) }
        o.parallelMaxHost = transfer.parallelMaxHost
        if let r = transfer.rate { o.rateInterval = try parseRate(r) }
        o.httpVersion = .chosen(
            http10: connection.http10, http11: connection.http11, http2: connection.http2,
            priorKnowledge: connection.http2PriorKnowledge)
        return o
    }
}

struct FetchRequestOptions: ParsableArguments {
    @Option(name: [.customShort("X"), .customLong("request")], parsing: .unconditional,
            help: ArgumentHelp("Request method to use.", valueName: "method"))
    var request: String?

    @Option(name: [.customShort("H"), .customLong("header")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Extra header ('Name: value'; 'Name:' removes, 'Name;' sends empty; @file).",
                               valueName: "header"))
    var header: [String] = []

    @Option(name: [.customShort("d"), .customLong("data")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("HTTP POST data (@file reads a file, newlines removed).", valueName: "data"))
    var data: [String] = []

    @Option(name: .customLong("data-ascii"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Same as --data.", valueName: "data"))
    var dataASCII: [String] = []

    @Option(name: .customLong("data-binary"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("HTTP POST data, @file sent as is.", valueName: "data"))
    var dataBinary: [String] = []

    @Option(name: .customLong("data-raw"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("HTTP POST data, '@' has no special meaning.", valueName: "data"))
    var dataRaw: [String] = []

    @Option(name: .customLong("data-urlencode"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("HTTP POST data, URL-encoded (content, =content, name=content, @file, name@file).",
                               valueName: "data"))
    var dataURLEncode: [String] = []

    @Option(name: .customLong("json"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("HTTP POST JSON data, with JSON Content-Type and Accept headers.", valueName: "data"))
    var json: [String] = []

    @Flag(name: [.customShort("G"), .customLong("get")], help: "Put the post data in the URL and use GET.")
    var get = false

    @Option(name: [.customShort("T"), .customLong("upload-file")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Upload a local file with PUT ('-' for stdin).", valueName: "file"))
    var uploadFile: [String] = []

    @Option(name: [.customShort("F"), .customLong("form")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Multipart form field: name=value, name=@file, name=<file.", valueName: "name=content"))
    var form: [String] = []

    @Option(name: [.customShort("A"), .customLong("user-agent")], parsing: .unconditional,
            help: ArgumentHelp("User-Agent to send.", valueName: "name"))
    var userAgent: String?

    @Option(name: [.customShort("e"), .customLong("referer")], parsing: .unconditional,
            help: ArgumentHelp("Referer URL (';auto' follows redirects).", valueName: "URL"))
    var referer: String?

    @Option(name: [.customShort("u"), .customLong("user")], parsing: .unconditional,
            help: ArgumentHelp("Server user and password.", valueName: "user:password"))
    var user: String?

    @Option(name: [.customShort("b"), .customLong("cookie")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Send cookies from a string ('a=b; c=d') or a file.", valueName: "data|filename"))
    var cookie: [String] = []

    @Option(name: [.customShort("c"), .customLong("cookie-jar")], parsing: .unconditional,
            help: ArgumentHelp("Write cookies to this file after the transfers.", valueName: "filename"))
    var cookieJar: String?

    @Flag(name: [.customShort("I"), .customLong("head")], help: "Show document info only (HEAD).")
    var head = false

    @Flag(name: .customLong("compressed"), help: "Request a compressed response and decode it.")
    var compressed = false

    @Option(name: .customLong("url"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("URL to fetch (as a positional argument).", valueName: "url"))
    var url: [String] = []

    @Option(name: .customLong("input-file"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Read URLs from a file, one per line ('-' for stdin; '#' comments).",
                               valueName: "file"))
    var inputFile: [String] = []

    @Flag(name: [.customShort("g"), .customLong("globoff")], help: "Turn off URL globbing ([] and {}).")
    var globoff = false

    @Flag(name: .customLong("dry-run"), help: "Print each planned request (method, URL, headers, body size, output) and send nothing.")
    var dryRun = false

    @Option(name: [.customShort("K"), .customLong("config")], parsing: .unconditional,
            help: ArgumentHelp("Read options from a file, in curl's config syntax.", valueName: "file"))
    var config: String?
}

struct FetchOutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Write to file instead of stdout; pairs with URLs in order ('#1' for globs).",
                               valueName: "file"))
    var output: [String] = []

    @Flag(name: [.customShort("O"), .customLong("remote-name")], help: "Write output to a file named as the remote file.")
    var remoteName: Int

    @Flag(name: .customLong("remote-name-all"), help: "Use the remote file name for every URL.")
    var remoteNameAll = false

    @Option(name: .customLong("output-dir"), parsing: .unconditional,
            help: ArgumentHelp("Directory to save files in.", valueName: "dir"))
    var outputDir: String?

    @Flag(name: .customLong("create-dirs"), help: "Create the directories -o and -O need.")
    var createDirs = false

    @Option(name: [.customShort("C"), .customLong("continue-at")], parsing: .unconditional,
            help: ArgumentHelp("Resume at this byte offset ('-' to use the output file's size).", valueName: "offset"))
    var continueAt: String?

    @Flag(name: [.customShort("i"), .customLong("include")], help: "Include response headers in the output.")
    var include = false

    @Flag(name: [.customShort("s"), .customLong("silent")], help: "Silent mode: no error messages.")
    var silent = false

    @Flag(name: [.customShort("S"), .customLong("show-error")], help: "Show error messages even when silent.")
    var showError = false

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Show request and response headers on stderr.")
    var verbose = false

    @Flag(name: [.customShort("f"), .customLong("fail")], help: "Fail on HTTP errors (exit 22), without the body.")
    var fail = false

    @Flag(name: .customLong("fail-with-body"), help: "Fail on HTTP errors (exit 22), keeping the body.")
    var failWithBody = false

    @Option(name: .customLong("fail-on"), parsing: .unconditional,
            help: ArgumentHelp("HTTP statuses that count as failures (exit 22), e.g. 4xx,5xx,!404 or 500-599,429.",
                               valueName: "list"))
    var failOn: String?

    @Flag(name: .customLong("exit-summary"),
          help: "Exit 0 when every URL succeeded, 1 when some failed (2 for usage errors), instead of curl's code.")
    var exitSummary = false

    @Option(name: .customLong("report"), parsing: .unconditional,
            help: ArgumentHelp("Write one JSON object per URL and a summary to this file ('-': stdout).", valueName: "file"))
    var report: String?

    @Flag(name: .customLong("stream"), help: "Write the body as it arrives (one URL to stdout).")
    var stream = false

    @Flag(name: [.customShort("N"), .customLong("no-buffer")], help: "Same as --stream, as curl's -N.")
    var noBuffer = false

    @Flag(name: .customLong("progress-bar"), help: "Show curl's single progress bar (-#) instead of the per-transfer display.")
    var progressBar = false

    @Flag(name: .customLong("no-progress-meter"), help: "Show no progress display.")
    var noProgressMeter = false

    @Flag(name: .customLong("skip-existing"), help: "Skip URLs whose output file exists already.")
    var skipExisting = false

    @Option(name: [.customShort("w"), .customLong("write-out")], parsing: .unconditional,
            help: ArgumentHelp("Text to write after each transfer, with %{variables} (@file reads it).",
                               valueName: "format"))
    var writeOut: String?
}

struct FetchTransferOptions: ParsableArguments {
    @Flag(name: [.customShort("L"), .customLong("location")], help: "Follow redirects.")
    var location = false

    @Option(name: .customLong("max-redirs"), help: ArgumentHelp("Maximum number of redirects (-1: no limit).", valueName: "num"))
    var maxRedirs = 50

    @Flag(name: [.customShort("Z"), .customLong("parallel")], help: "Accepted for curl compatibility: transfers always run in parallel.")
    var parallel = false

    @Option(name: .customLong("parallel-max"), help: ArgumentHelp("Maximum concurrent transfers.", valueName: "num"))
    var parallelMax = 50

    @Option(name: .customLong("parallel-max-host"),
            help: ArgumentHelp("Maximum concurrent transfers to one host.", valueName: "num"))
    var parallelMaxHost: Int?

    @Option(name: .customLong("rate"),
            help: ArgumentHelp("Start at most this many transfers per time unit: N/s, N/m, N/h (or N, per hour).",
                               valueName: "rate"))
    var rate: String?

    @Option(name: .customLong("retry"), help: ArgumentHelp("Retry transient failures this many times.", valueName: "num"))
    var retry = 0

    @Option(name: .customLong("retry-delay"), help: ArgumentHelp("Wait this long between retries (default: doubling from 1 s).", valueName: "seconds"))
    var retryDelay: Double = 0

    @Option(name: .customLong("retry-max-time"), help: ArgumentHelp("Retry only within this period.", valueName: "seconds"))
    var retryMaxTime: Double = 0

    @Flag(name: .customLong("retry-all-errors"), help: "Retry on any error.")
    var retryAllErrors = false

    @Flag(name: .customLong("retry-connrefused"), help: "Retry on connection refused as well.")
    var retryConnrefused = false

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Maximum time allowed to connect.", valueName: "seconds"))
    var connectTimeout: Double?

    @Option(name: [.customShort("m"), .customLong("max-time")], help: ArgumentHelp("Maximum time allowed for each transfer.", valueName: "seconds"))
    var maxTime: Double?
}

struct FetchConnectionOptions: ParsableArguments {
    @Option(name: [.customShort("x"), .customLong("proxy")], parsing: .unconditional,
            help: ArgumentHelp("Use this proxy (http, https, socks5, socks5h URLs).", valueName: "url"))
    var proxy: String?

    @Option(name: .customLong("noproxy"), parsing: .unconditional,
            help: ArgumentHelp("Hosts that bypass the proxy (comma-separated, '*' for all).", valueName: "list"))
    var noproxy: String?

    @Flag(name: [.customShort("k"), .customLong("insecure")], help: "Do not verify TLS certificates.")
    var insecure = false

    @Option(name: .customLong("cacert"), parsing: .unconditional, help: ArgumentHelp("CA bundle to verify peers with.", valueName: "file"))
    var cacert: String?

    @Option(name: .customLong("capath"), parsing: .unconditional, help: ArgumentHelp("CA directory to verify peers with.", valueName: "dir"))
    var capath: String?

    @Flag(name: [.customShort("0"), .customLong("http1.0")], help: "Use HTTP/1.0.")
    var http10 = false

    @Flag(name: .customLong("http1.1"), help: "Use HTTP/1.1.")
    var http11 = false

    @Flag(name: .customLong("http2"), help: "Use HTTP/2 where the server agrees.")
    var http2 = false

    @Flag(name: .customLong("http2-prior-knowledge"), help: "Use HTTP/2 without HTTP/1.1 Upgrade.")
    var http2PriorKnowledge = false
}
