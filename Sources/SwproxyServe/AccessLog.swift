import Glibc
import SwproxyLoop

/// One line per request or tunnel, in `combined`, `common` or `json` format, to stderr or a file. A refusal's
/// or failure's reason code ends a `combined`/`common` line as `reason=CODE` (and an audited one as
/// `would-deny=CODE`); `json` has `reason` (also as `error`, its older name) and `would_deny`.
final class AccessLog {
    struct Entry {
        var client: String
        var user = "-"
        var method: String
        var target: String
        var version: String
        var status: Int
        var bytesIn: Int64
        var bytesOut: Int64
        var durationMs: Double
        var referer: String?
        var userAgent: String?
        var upstream: String?
        var error: String?
        var wouldDeny: String?
        var cache: String? = nil
    }

    private let fd: Int32
    private let format: ServeConfiguration.LogFormat
    /// False with --quiet: callers may skip building entries.
    let enabled: Bool
    private let ownsFD: Bool

    init(config: ServeConfiguration) throws {
        format = config.logFormat
        enabled = !config.quiet
        if let path = config.accessLogPath, !config.quiet {
            let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard f >= 0 else { throw SyscallError.current("open(\(path))") }
            fd = f
            ownsFD = true
        } else {
            fd = 2
            ownsFD = false
        }
    }

    func close() {
        if ownsFD { Socket.close(fd) }
    }

    func write(_ e: Entry) {
        guard enabled else { return }
        var line: String
        switch format {
        case .common, .combined:
            line = "\(e.client) - \(e.user) [\(AccessLog.clfTime())] \"\(e.method) \(AccessLog.clfEscape(e.target)) \(e.version)\" \(e.status) \(e.bytesOut)"
            if format == .combined {
                line += " \"\(AccessLog.clfEscape(e.referer ?? "-"))\" \"\(AccessLog.clfEscape(e.userAgent ?? "-"))\""
            }
            // Past the standard fields, and only when there is one: parsers of the plain formats read on.
            if let c = e.cache { line += " cache=\(c)" }
            if let r = e.error { line += " reason=\(r)" }
            if let w = e.wouldDeny { line += " would-deny=\(w)" }
        case .json:
            var f: [String] = [
                "\"time\":\"\(AccessLog.isoTime())\"", "\"client\":\(jsonQuote(e.client))",
                "\"method\":\(jsonQuote(e.method))", "\"target\":\(jsonQuote(e.target))", "\"status\":\(e.status)",
                "\"bytes_in\":\(e.bytesIn)", "\"bytes_out\":\(e.bytesOut)",
                "\"duration_ms\":\(Double(Int(e.durationMs * 1000)) / 1000)",
            ]
            f.append("\"upstream\":" + (e.upstream.map(jsonQuote) ?? "null"))
            f.append("\"error\":" + (e.error.map(jsonQuote) ?? "null"))
            f.append("\"reason\":" + (e.error.map(jsonQuote) ?? "null"))
            f.append("\"would_deny\":" + (e.wouldDeny.map(jsonQuote) ?? "null"))
            f.append("\"cache\":" + (e.cache.map(jsonQuote) ?? "null"))
            line = "{" + f.joined(separator: ",") + "}"
        }
        line += "\n"
        line.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    static func clfEscape(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u == "\"" || u == "\\" { out += "\\" + String(u) } else if u.value < 32 || u.value == 127 {
                out += "\\x" + String(u.value, radix: 16)
            } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    static func clfTime() -> String { strftimeNow("%d/%b/%Y:%H:%M:%S %z", local: true) }
    static func isoTime() -> String { strftimeNow("%Y-%m-%dT%H:%M:%SZ", local: false) }

    private static func strftimeNow(_ format: String, local: Bool) -> String {
        var t = time(nil)
        var tmv = tm()
        if local { localtime_r(&t, &tmv) } else { gmtime_r(&t, &tmv) }
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, 64, format, &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

func jsonQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
