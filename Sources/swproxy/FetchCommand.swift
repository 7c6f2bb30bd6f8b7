import ArgumentParser
import SwproxyConfig
import SwproxyFetch
import Glibc
import SwproxyCurl

/// `swproxy fetch`: declarations only (help, completions, man page come from here); the work is in
/// SwproxyFetch. Option names, meanings and exit codes follow curl(1).
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch URLs concurrently, curl-compatible.",
        discussion: """
            Every URL is a transfer on one libcurl multi handle; up to --parallel-max run at once. Where curl's \
            one-after-another order matters, it is kept: --next steps run one after another; the first URL to a \
            host (or proxy) runs alone, so the others reuse its connection; with cookies on, URLs of one site run \
            in order; so do requests with a body or a method other than GET/HEAD/OPTIONS to one host (unless \
            --parallel-max-host is given), Digest/NTLM/Negotiate URLs to one host, and URLs writing one file. \
            Bodies written to standard output come out whole and in input order. The exit status is curl's code \
            for the first failed URL in input order (22 for HTTP errors with -f), 0 when all succeed, 2 for a \
            usage error. \
            As in curl, a flag can be switched off with its --no- form (--no-silent after a -K file that sets \
            silent).
            """)

    @OptionGroup(title: "Request") var request: FetchRequestOptions
    @OptionGroup(title: "Output") var output: FetchOutputOptions
    @OptionGroup(title: "Transfer") var transfer: FetchTransferOptions
    @OptionGroup(title: "Connection") var connection: FetchConnectionOptions
    @OptionGroup(title: "Authentication, names, conditions, limits (as curl)") var curl: FetchCurlOptions

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
        for (name, value) in syntax.ordered(tokens, names: ["form", "form-string"]) {
            o.forms.append(FetchOptions.FormSpec(value ?? "", literal: name == "form-string"))
        }
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
        for (name, value) in syntax.ordered(tokens, names: ["output", "remote-name", "no-remote-name"]) {
            o.outputs.append(name == "output" ? .file(value ?? "") : name == "remote-name" ? .remoteName : .noRemoteName)
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
        // The last of --trace, --trace-ascii and -v wins, as in curl (-v after a trace: to stderr after all).
        if let (name, value) = syntax.ordered(tokens, names: ["trace", "trace-ascii", "verbose"]).last {
            if name == "verbose" {
                if o.trace == nil, syntax.ordered(tokens, names: ["trace", "trace-ascii"]).first != nil {
                    o.traceOverridden = true
                }
            } else if let path = value {
                o.trace = (name == "trace" ? .binary : .ascii, path)
            }
        }
        o.traceTime = output.traceTime
        o.stderrPath = output.stderr
        o.curl = try curl.settings(tokens: tokens, syntax: syntax)
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
        if let named = curl.namedProxy(tokens: tokens, syntax: syntax) {
            o.proxy = named.host
            o.curl.proxyType = named.type
        }
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
        o.failEarly = curl.failEarly
        o.libcurl = curl.libcurl
        o.urlQuery = curl.urlQuery
        o.parallelMaxHost = transfer.parallelMaxHost
        if let n = transfer.segments {
            guard (1...16).contains(n) else { throw ValidationError("--segments must be 1 to 16 (got \(n))") }
            o.segments = n
        }
        if let m = transfer.minSegmentSize {
            guard let n = CurlSettings.speed(m), n > 0 else {
                throw ValidationError("option --min-segment-size: expected a size such as 4M (got '\(m)')")
            }
            o.minSegmentSize = n
        }
        if let c = transfer.checksum { o.checksum = try Checksum(parsing: c) }
        o.keepBad = transfer.keepBad
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

    @Flag(name: .customLong("no-remote-name"), help: "Write this URL to stdout after all (undoes --remote-name-all for it).")
    var noRemoteName: Int
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

    @Option(name: .customLong("trace"), parsing: .unconditional,
            help: ArgumentHelp("Write a full trace (hex and ASCII) of all sent and received data to FILE ('-' stdout).",
                               valueName: "file"))
    var trace: String?

    @Option(name: .customLong("trace-ascii"), parsing: .unconditional,
            help: ArgumentHelp("Like --trace, without the hex: ASCII only, a line per CRLF.", valueName: "file"))
    var traceAscii: String?

    @Flag(name: .customLong("trace-time"), help: "Start each --trace and -v line with the time of day.")
    var traceTime = false

    @Option(name: .customLong("stderr"), parsing: .unconditional,
            help: ArgumentHelp("Write what would go to stderr to this file instead ('-' stdout).", valueName: "file"))
    var stderr: String?

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

    @Flag(name: [.customShort("Z"), .customLong("parallel")], help: "Accepted for curl compatibility: transfers run in parallel wherever their order does not matter.")
    var parallel = false

    @Option(name: .customLong("parallel-max"), help: ArgumentHelp("Maximum concurrent transfers.", valueName: "num"))
    var parallelMax = 50

    @Option(name: .customLong("parallel-max-host"),
            help: ArgumentHelp("Maximum concurrent transfers to one host.", valueName: "num"))
    var parallelMaxHost: Int?

    @Option(name: .customLong("segments"),
            help: ArgumentHelp("Fetch the body over up to this many range transfers at once (1-16), into a file that can be continued (FILE.swproxy-part).", valueName: "num"))
    var segments: Int?

    @Option(name: .customLong("min-segment-size"),
            help: ArgumentHelp("No segment smaller than this (suffixes k, m, g; default 4M).", valueName: "bytes"))
    var minSegmentSize: String?

    @Option(name: .customLong("checksum"),
            help: ArgumentHelp("The body's digest, checked while it is written: sha256=HEX, sha512=, sha1=, md5= (exit 110 when it differs).", valueName: "alg=hex"))
    var checksum: String?

    @Flag(name: .customLong("keep-bad"), help: "Keep a file whose --checksum is wrong (it is removed otherwise).")
    var keepBad = false

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

struct FetchCurlOptions: ParsableArguments {
    @Flag(name: .customLong("basic"), help: "Use HTTP Basic authentication (the default).")
    var basic = false
    @Flag(name: .customLong("digest"), help: "Use HTTP Digest authentication.")
    var digest = false
    @Flag(name: .customLong("ntlm"), help: "Use HTTP NTLM authentication.")
    var ntlm = false
    @Flag(name: .customLong("negotiate"), help: "Use HTTP Negotiate (SPNEGO) authentication.")
    var negotiate = false
    @Flag(name: .customLong("anyauth"), help: "Pick the safest authentication method the server offers.")
    var anyauth = false

    @Option(name: [.customShort("U"), .customLong("proxy-user")], parsing: .unconditional,
            help: ArgumentHelp("Proxy user and password.", valueName: "user:password"))
    var proxyUser: String?
    @Flag(name: .customLong("proxy-basic"), help: "Use Basic authentication with the proxy.")
    var proxyBasic = false
    @Flag(name: .customLong("proxy-digest"), help: "Use Digest authentication with the proxy.")
    var proxyDigest = false
    @Flag(name: .customLong("proxy-ntlm"), help: "Use NTLM authentication with the proxy.")
    var proxyNtlm = false
    @Flag(name: .customLong("proxy-negotiate"), help: "Use Negotiate authentication with the proxy.")
    var proxyNegotiate = false
    @Flag(name: .customLong("proxy-anyauth"), help: "Pick any authentication method the proxy offers.")
    var proxyAnyauth = false
    @Flag(name: [.customShort("p"), .customLong("proxytunnel")], help: "Tunnel through the HTTP proxy with CONNECT.")
    var proxytunnel = false
    @Option(name: .customLong("proxy-header"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Extra header for the proxy only (repeatable).", valueName: "header"))
    var proxyHeader: [String] = []
    @Option(name: .customLong("proxy1.0"), parsing: .unconditional,
            help: ArgumentHelp("Use this HTTP proxy, speaking HTTP/1.0 to it.", valueName: "host[:port]"))
    var proxy10: String?
    @Option(name: .customLong("socks4"), parsing: .unconditional,
            help: ArgumentHelp("Use this SOCKS4 proxy.", valueName: "host[:port]"))
    var socks4: String?
    @Option(name: .customLong("socks4a"), parsing: .unconditional,
            help: ArgumentHelp("Use this SOCKS4a proxy.", valueName: "host[:port]"))
    var socks4a: String?
    @Option(name: .customLong("socks5"), parsing: .unconditional,
            help: ArgumentHelp("Use this SOCKS5 proxy (names resolved locally).", valueName: "host[:port]"))
    var socks5: String?
    @Option(name: .customLong("socks5-hostname"), parsing: .unconditional,
            help: ArgumentHelp("Use this SOCKS5 proxy (names resolved by the proxy).", valueName: "host[:port]"))
    var socks5Hostname: String?

    @Option(name: .customLong("resolve"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Resolve HOST:PORT to ADDR (repeatable).", valueName: "host:port:addr"))
    var resolve: [String] = []
    @Option(name: .customLong("connect-to"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Connect to HOST2:PORT2 for requests to HOST1:PORT1 (repeatable).",
                               valueName: "host1:port1:host2:port2"))
    var connectTo: [String] = []
    @Option(name: .customLong("interface"), parsing: .unconditional,
            help: ArgumentHelp("Use this interface, address or host name for outgoing connections.", valueName: "name"))
    var interface: String?
    @Flag(name: [.customShort("4"), .customLong("ipv4")], help: "Resolve names to IPv4 addresses only.")
    var ipv4 = false
    @Flag(name: [.customShort("6"), .customLong("ipv6")], help: "Resolve names to IPv6 addresses only.")
    var ipv6 = false

    @Option(name: [.customShort("r"), .customLong("range")], parsing: .unconditional,
            help: ArgumentHelp("Byte range(s) to ask for (e.g. 0-499, 500-, -500, 0-1,5-9).", valueName: "range"))
    var range: String?
    @Option(name: [.customShort("z"), .customLong("time-cond")], parsing: .unconditional,
            help: ArgumentHelp("Only if modified since this date or file's time ('-' before: unmodified since).",
                               valueName: "time"))
    var timeCond: String?
    @Flag(name: [.customShort("n"), .customLong("netrc")], help: "Take credentials from ~/.netrc (required).")
    var netrc = false
    @Flag(name: .customLong("netrc-optional"), help: "Take credentials from ~/.netrc if it has them.")
    var netrcOptional = false
    @Option(name: .customLong("netrc-file"), parsing: .unconditional,
            help: ArgumentHelp("Take credentials from this netrc file.", valueName: "file"))
    var netrcFile: String?
    @Flag(name: .customLong("tr-encoding"), help: "Ask for a compressed Transfer-Encoding and decode it.")
    var trEncoding = false
    @Flag(name: .customLong("post301"), help: "Keep POST after a 301 redirect.")
    var post301 = false
    @Flag(name: .customLong("post302"), help: "Keep POST after a 302 redirect.")
    var post302 = false
    @Flag(name: .customLong("post303"), help: "Keep POST after a 303 redirect.")
    var post303 = false
    @Flag(name: .customLong("http0.9"), help: "Accept HTTP/0.9 responses.")
    var http09 = false
    @Option(name: .customLong("limit-rate"), parsing: .unconditional,
            help: ArgumentHelp("Most bytes per second each way (suffixes k, m, g).", valueName: "speed"))
    var limitRate: String?
    @Option(name: [.customShort("D"), .customLong("dump-header")], parsing: .unconditional,
            help: ArgumentHelp("Write the received headers to this file ('-' stdout).", valueName: "file"))
    var dumpHeader: String?

    @Flag(name: .customLong("location-trusted"), help: "Like -L, and send credentials to other hosts too.")
    var locationTrusted = false
    @Option(name: .customLong("request-target"), parsing: .unconditional,
            help: ArgumentHelp("Send this request target instead of the URL's path.", valueName: "path"))
    var requestTarget: String?
    @Flag(name: .customLong("raw"), help: "Pass content and transfer encodings through undecoded.")
    var raw = false
    @Option(name: .customLong("max-filesize"), parsing: .unconditional,
            help: ArgumentHelp("Refuse a body larger than this (exit 63; suffixes k, m, g).", valueName: "bytes"))
    var maxFilesize: String?
    @Option(name: .customLong("hsts"), parsing: .unconditional,
            help: ArgumentHelp("Keep HSTS state in this file.", valueName: "file"))
    var hsts: String?
    @Option(name: .customLong("alt-svc"), parsing: .unconditional,
            help: ArgumentHelp("Keep Alt-Svc state in this file.", valueName: "file"))
    var altSvc: String?
    @Flag(name: .customLong("haproxy-protocol"), help: "Send a HAProxy PROXY v1 header first.")
    var haproxyProtocol = false
    @Option(name: .customLong("unix-socket"), parsing: .unconditional,
            help: ArgumentHelp("Connect through this Unix domain socket.", valueName: "path"))
    var unixSocket: String?
    @Flag(name: .customLong("path-as-is"), help: "Do not squash /../ and /./ in the URL path.")
    var pathAsIs = false
    @Flag(name: .customLong("suppress-connect-headers"), help: "Leave the proxy's CONNECT response out of -i output.")
    var suppressConnectHeaders = false
    @Flag(name: .customLong("proxy-insecure"), help: "Do not verify the HTTPS proxy's certificate.")
    var proxyInsecure = false
    @Option(name: .customLong("preproxy"), parsing: .unconditional,
            help: ArgumentHelp("A SOCKS proxy to reach the proxy through.", valueName: "url"))
    var preproxy: String?
    @Option(name: .customLong("oauth2-bearer"), parsing: .unconditional,
            help: ArgumentHelp("OAuth 2 bearer token.", valueName: "token"))
    var oauth2Bearer: String?
    @Flag(name: .customLong("ignore-content-length"), help: "Ignore the Content-Length of responses.")
    var ignoreContentLength = false
    @Flag(name: .customLong("disallow-username-in-url"), help: "Refuse URLs that carry a user name.")
    var disallowUsernameInURL = false

    @Option(name: .customLong("etag-save"), parsing: .unconditional,
            help: ArgumentHelp("Write the response's ETag to this file.", valueName: "file"))
    var etagSave: String?
    @Option(name: .customLong("etag-compare"), parsing: .unconditional,
            help: ArgumentHelp("Ask for the body only if its ETag differs from the one in this file (If-None-Match).",
                               valueName: "file"))
    var etagCompare: String?

    @Flag(name: .customLong("remove-on-error"), help: "Remove the output file of a URL that fails.")
    var removeOnError = false

    @Option(name: .customLong("proto"), parsing: .unconditional,
            help: ArgumentHelp("Allow only these protocols (curl's syntax: =http,https  -ftp  +file  all).", valueName: "protocols"))
    var proto: String?
    @Option(name: .customLong("proto-redir"), parsing: .unconditional,
            help: ArgumentHelp("Allow only these protocols in redirects (as --proto; default http,https,ftp,ftps).",
                               valueName: "protocols"))
    var protoRedir: String?
    @Option(name: .customLong("proto-default"), parsing: .unconditional,
            help: ArgumentHelp("The protocol of URLs given without a scheme (default http).", valueName: "protocol"))
    var protoDefault: String?
    @Flag(name: [.customShort(":"), .customLong("next")],
          help: "Start the next step: the URLs after it get their own options, and run once the step before has finished.")
    var next = false
    @Flag(name: .customLong("fail-early"), help: "Stop at the first URL that fails (exit with its code).")
    var failEarly = false
    @Option(name: .customLong("libcurl"), parsing: .unconditional,
            help: ArgumentHelp("Write C source that does the same transfer with libcurl to this file.", valueName: "file"))
    var libcurl: String?
    @Option(name: .customLong("form-string"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Multipart form field whose value is taken literally (no @, < or ;type=).",
                               valueName: "name=string"))
    var formString: [String] = []
    @Flag(name: .customLong("form-escape"), help: "Escape '\\' and '\"' in form field and file names with a backslash.")
    var formEscape = false
    @Flag(name: .customLong("clobber"), help: "Overwrite existing output files (the default).")
    var clobber = false
    @Flag(name: .customLong("no-clobber"), help: "Never overwrite an output file: write FILE.1, FILE.2 … instead.")
    var noClobber = false
    @Flag(name: [.customShort("J"), .customLong("remote-header-name")],
          help: "With -O: name the file as the response's Content-Disposition says (never overwriting a file).")
    var remoteHeaderName = false
    @Flag(name: [.customShort("j"), .customLong("junk-session-cookies")], help: "Drop session cookies read from files.")
    var junkSessionCookies = false
    @Flag(name: .customLong("use-ascii"), help: "Transfer in ASCII mode (FTP, including FTP over an HTTP proxy).")
    var useASCII = false
    @Option(name: .customLong("url-query"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Add this to the URL's query, in --data-urlencode's syntax ('+' first: as is).",
                               valueName: "data"))
    var urlQuery: [String] = []

    /// CURLAUTH_ bits (curl.h); CURLAUTH_ANY is all but DIGEST_IE.
    static let auth = ["basic": 1, "digest": 2, "negotiate": 4, "ntlm": 8, "anyauth": ~16]

    func settings(tokens: [String], syntax: ArgumentSyntax) throws -> CurlSettings {
        var c = CurlSettings()
        // As curl: each of --basic, --digest, --ntlm, --negotiate adds its method (libcurl then picks
        // from what the server offers when more than one is set); --anyauth sets them all, in order.
        var bits = 0
        for (name, _) in syntax.ordered(tokens, names: Set(Self.auth.keys)) {
            bits = name == "anyauth" ? Self.auth[name]! : bits | Self.auth[name]!
        }
        if bits != 0 { c.httpAuth = bits }
        // For the proxy, one method, by curl's precedence: any, negotiate, ntlm, digest, basic.
        if proxyAnyauth { c.proxyAuth = Self.auth["anyauth"] } else if proxyNegotiate { c.proxyAuth = 4 }
        else if proxyNtlm { c.proxyAuth = 8 } else if proxyDigest { c.proxyAuth = 2 } else if proxyBasic { c.proxyAuth = 1 }
        c.proxyUser = proxyUser
        c.proxyTunnel = proxytunnel
        c.proxyHeaders = proxyHeader
        c.resolve = resolve
        c.connectTo = connectTo
        c.interface = interface
        if let last = syntax.ordered(tokens, names: ["ipv4", "ipv6"]).last { c.ipResolve = last.name == "ipv4" ? 1 : 2 }
        c.range = range
        if let t = timeCond, let tc = CurlSettings.timeCondition(t) { c.timeCondition = tc }
        if netrc { c.netrc = 2 }
        if netrcOptional || netrcFile != nil { c.netrc = netrc ? 2 : 1 }
        c.netrcFile = netrcFile
        c.transferEncoding = trEncoding
        c.postRedirect = (post301 ? 1 : 0) | (post302 ? 2 : 0) | (post303 ? 4 : 0)
        c.http09 = http09
        if let r = limitRate {
            guard let n = CurlSettings.speed(r) else {
                throw ValidationError("option --limit-rate: expected a proper numerical parameter")
            }
            c.limitRate = n
        }
        c.dumpHeader = dumpHeader
        c.locationTrusted = locationTrusted
        c.requestTarget = requestTarget
        c.raw = raw
        if let m = maxFilesize {
            guard let n = CurlSettings.speed(m) else {
                throw ValidationError("option --max-filesize: expected a proper numerical parameter")
            }
            c.maxFileSize = n
        }
        c.hstsFile = hsts
        c.altSvcFile = altSvc
        c.haproxyProtocol = haproxyProtocol
        c.unixSocket = unixSocket
        c.pathAsIs = pathAsIs
        c.suppressConnectHeaders = suppressConnectHeaders
        c.proxyInsecure = proxyInsecure
        c.preProxy = preproxy
        c.oauth2Bearer = oauth2Bearer
        c.ignoreContentLength = ignoreContentLength
        c.disallowUsernameInURL = disallowUsernameInURL
        c.etagSave = etagSave
        c.etagCompare = etagCompare
        c.removeOnError = removeOnError
        if let last = syntax.ordered(tokens, names: ["clobber", "no-clobber"]).last { c.noClobber = last.name == "no-clobber" }
        c.formEscape = formEscape
        c.useASCII = useASCII
        c.junkSessionCookies = junkSessionCookies
        c.remoteHeaderName = remoteHeaderName
        let known = CurlVersion.current.protocols
        if let p = proto {
            let (set, warnings) = CurlSettings.protocolSet(p, initial: known, known: known)
            for w in warnings { FetchCommand.warn(w) }
            c.protocols = set
        }
        if let p = protoRedir {
            let initial = ["ftp", "ftps", "http", "https"].filter(known.contains)
            let (set, warnings) = CurlSettings.protocolSet(p, initial: initial, known: known)
            for w in warnings { FetchCommand.warn(w) }
            c.redirectProtocols = set
        }
        if let d = protoDefault {
            guard known.contains(d.lowercased()) else {
                throw ValidationError("option --proto-default: Protocol '\(d)' not supported")
            }
            c.defaultProtocol = d
        }
        return c
    }

    /// The proxy one of `--proxy1.0`/`--socks*` names, with its CURLPROXY_ type, when it comes after any
    /// `-x` (the last given wins, as in curl).
    func namedProxy(tokens: [String], syntax: ArgumentSyntax) -> (host: String, type: Int)? {
        let types = ["proxy1.0": 1, "socks4": 4, "socks4a": 6, "socks5": 5, "socks5-hostname": 7]
        guard let last = syntax.ordered(tokens, names: Set(types.keys).union(["proxy"])).last,
              let host = last.value, let type = types[last.name] else { return nil }
        return (host, type)
    }
}

extension FetchCommand {
    /// A warning while reading the arguments, in curl's words (`Warning: …` on stderr).
    static func warn(_ text: String) {
        var s = "Warning: \(text)\n"
        s.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
