import SwproxyConfig

/// `swproxy fetch`'s command-line syntax, and the direct mapping of its normalized tokens to `FetchOptions`.
///
/// swift-argument-parser (the CLI's `FetchCommand`) stays the authority: help, man page, completions and
/// every error message come from it. But its reflection over some 70 declared options was about 40% of the
/// instructions of a one-URL fetch, so the common case, tokens that are all known and well formed, is mapped
/// here instead. Anything unusual (an unknown option, a bad number, an option given twice where only one is
/// kept, a value that starts with `-` where the parser might read an option) makes `options(from:)` decline,
/// and the CLI falls back to swift-argument-parser. A test runs both on a table of argument lists and
/// requires the same `FetchOptions`.
public enum FetchArguments {
    /// Short letters and valued long options, for the curl-style argument rewriting done before parsing.
    public static let syntax = ArgumentSyntax(
        shortNames: [
            "X": "request", "H": "header", "d": "data", "G": "get", "T": "upload-file", "F": "form",
            "A": "user-agent", "e": "referer", "u": "user", "b": "cookie", "c": "cookie-jar", "I": "head",
            "g": "globoff", "o": "output", "O": "remote-name", "C": "continue-at", "i": "include", "s": "silent",
            "S": "show-error", "v": "verbose", "f": "fail", "w": "write-out", "L": "location", "Z": "parallel",
            "m": "max-time", "x": "proxy", "k": "insecure", "0": "http1.0", "K": "config", "#": "progress-bar",
            "N": "no-buffer", "U": "proxy-user", "p": "proxytunnel", "r": "range", "z": "time-cond", "n": "netrc",
            "4": "ipv4", "6": "ipv6", "D": "dump-header", ":": "next", "j": "junk-session-cookies", "J": "remote-header-name",
        ],
        valued: [
            "request", "header", "data", "data-ascii", "data-binary", "data-raw", "data-urlencode", "json",
            "upload-file", "form", "user-agent", "referer", "user", "cookie", "cookie-jar", "url", "input-file",
            "output", "output-dir", "continue-at", "write-out", "max-redirs", "parallel-max", "retry",
            "retry-delay", "retry-max-time", "connect-timeout", "max-time", "proxy", "noproxy", "cacert", "capath",
            "config", "report", "parallel-max-host", "rate", "fail-on", "trace", "trace-ascii",
            "proxy-user", "proxy-header", "proxy1.0", "socks4", "socks4a", "socks5", "socks5-hostname", "resolve",
            "connect-to", "interface", "range", "time-cond", "netrc-file", "limit-rate", "dump-header", "stderr",
            "request-target", "max-filesize", "hsts", "alt-svc", "unix-socket", "preproxy", "oauth2-bearer", "etag-save",
            "etag-compare", "libcurl", "form-string", "url-query", "proto", "proto-redir", "proto-default",
            "segments", "min-segment-size", "checksum",
        ],
        flags: [
            "get", "head", "compressed", "globoff", "remote-name", "remote-name-all", "create-dirs", "include",
            "silent", "show-error", "verbose", "fail", "fail-with-body", "location", "parallel", "retry-all-errors",
            "retry-connrefused", "insecure", "http1.0", "http1.1", "http2", "http2-prior-knowledge", "exit-summary",
            "stream", "no-buffer", "progress-bar", "no-progress-meter", "dry-run", "skip-existing", "trace-time",
            "basic", "digest", "ntlm", "negotiate", "anyauth", "proxy-basic", "proxy-digest", "proxy-ntlm",
            "proxy-negotiate", "proxy-anyauth", "proxytunnel", "ipv4", "ipv6", "netrc", "netrc-optional",
            "tr-encoding", "post301", "post302", "post303", "http0.9", "location-trusted", "raw", "haproxy-protocol",
            "path-as-is", "suppress-connect-headers", "proxy-insecure", "ignore-content-length",
            "disallow-username-in-url", "remove-on-error", "next", "fail-early", "form-escape", "clobber",
            "no-clobber", "use-ascii", "junk-session-cookies", "remote-header-name", "no-remote-name", "keep-bad",
        ],
        configOption: "config")

    /// The options of normalized tokens (`ArgumentNormalizer` output: `--name value`, `--name`, URLs, `--`),
    /// or nil when the full parser must decide.
    public static func options(from tokens: [String]) -> FetchOptions? {
        var o = FetchOptions()
        var urlOptions: [String] = []
        var positional: [String] = []
        var seen: Set<String> = []
        var http = (v10: false, v11: false, v2: false, prior: false)
        var stream = (stream: false, noBuffer: false)
        var progress = (bar: false, off: false)
        var i = 0
        var ended = false
        while i < tokens.count {
            let t = tokens[i]
            i += 1
            if ended {
                positional.append(t)
                continue
            }
            if t == "--" {
                ended = true
                continue
            }
            guard t.hasPrefix("--") else {
                if t.hasPrefix("-") { return nil }
                positional.append(t)
                continue
            }
            let name = String(t.dropFirst(2))
            if syntax.takesValue(name) {
                guard i < tokens.count else { return nil }
                let v = tokens[i]
                i += 1
                switch name {
                // Repeatable, in order.
                case "header": o.headers.append(v)
                case "data", "data-ascii": o.data.append(.ascii(v))
                case "data-binary": o.data.append(.binary(v))
                case "data-raw": o.data.append(.raw(v))
                case "data-urlencode": o.data.append(.urlencode(v))
                case "json": o.data.append(.json(v))
                case "upload-file": o.uploadFiles.append(v)
                case "form": o.forms.append(FetchOptions.FormSpec(v))
                case "cookie": o.cookies.append(v)
                case "url": urlOptions.append(v)
                case "input-file": o.inputFiles.append(v)
                case "output": o.outputs.append(.file(v))
                default:
                    // Single-valued: a second occurrence is the full parser's to judge.
                    guard seen.insert(name).inserted else { return nil }
                    guard set(name, v, &o) else { return nil }
                }
                continue
            }
            if name == "remote-name" {  // a counted flag: -O pairs with URLs like -o
                o.outputs.append(.remoteName)
                continue
            }
            guard seen.insert(name).inserted else { return nil }
            switch name {
            case "get": o.get = true
            case "head": o.head = true
            case "compressed": o.compressed = true
            case "globoff": o.globOff = true
            case "dry-run": o.dryRun = true
            case "remote-name-all": o.remoteNameAll = true
            case "create-dirs": o.createDirs = true
            case "include": o.include = true
            case "silent": o.silent = true
            case "show-error": o.showError = true
            case "verbose": o.verbose = true
            case "fail": o.fail = true
            case "fail-with-body": o.failWithBody = true
            case "exit-summary": o.exitSummary = true
            case "stream": stream.stream = true
            case "no-buffer": stream.noBuffer = true
            case "progress-bar": progress.bar = true
            case "no-progress-meter": progress.off = true
            case "skip-existing": o.skipExisting = true
            case "location": o.location = true
            case "parallel": break
            case "retry-all-errors": o.retryAllErrors = true
            case "retry-connrefused": o.retryConnectionRefused = true
            case "insecure": o.insecure = true
            case "http1.0": http.v10 = true
            case "http1.1": http.v11 = true
            case "http2": http.v2 = true
            case "http2-prior-knowledge": http.prior = true
            default: return nil  // unknown: the full parser names it
            }
        }
        o.urls = urlOptions + positional
        o.stream = stream.stream || stream.noBuffer
        if progress.off { o.progress = .off } else if progress.bar { o.progress = .bar }
        o.httpVersion = .chosen(http10: http.v10, http11: http.v11, http2: http.v2, priorKnowledge: http.prior)
        return o
    }

    /// One single-valued option; false when the value is not one the full parser would take as is.
    private static func set(_ name: String, _ v: String, _ o: inout FetchOptions) -> Bool {
        switch name {
        case "request": o.method = v
        case "user-agent": o.userAgent = v
        case "referer": o.referer = v
        case "user": o.user = v
        case "cookie-jar": o.cookieJar = v
        case "output-dir": o.outputDir = v
        case "write-out": o.writeOut = v
        case "report": o.report = v
        case "proxy": o.proxy = v
        case "noproxy": o.noProxy = v
        case "cacert": o.caCert = v
        case "capath": o.caPath = v
        case "continue-at":
            if v == "-" {
                o.continueAuto = true
            } else if let n = Int64(v), n >= 0 {
                o.continueAt = n
            } else {
                return false
            }
        case "fail-on":
            guard let s = try? StatusSet(parsing: v) else { return false }
            o.failOn = s
        default:
            // Options the full parser reads with its default `.next` strategy, where a value starting with
            // `-` may be taken for an option: leave those to it.
            guard !v.hasPrefix("-") else { return false }
            switch name {
            case "rate":
                guard let r = try? parseRate(v) else { return false }
                o.rateInterval = r
            case "max-redirs", "parallel-max", "parallel-max-host", "retry":
                guard let n = Int(v) else { return false }
                switch name {
                case "max-redirs": o.maxRedirects = n
                case "parallel-max": o.parallelMax = n
                case "parallel-max-host": o.parallelMaxHost = n
                default: o.retry = n
                }
            case "retry-delay", "retry-max-time", "connect-timeout", "max-time":
                guard let d = Double(v), d.isFinite else { return false }
                switch name {
                case "retry-delay": o.retryDelay = d
                case "retry-max-time": o.retryMaxTime = d
                case "connect-timeout": o.connectTimeout = d
                default: o.maxTime = d
                }
            default:
                return false
            }
        }
        return true
    }
}
