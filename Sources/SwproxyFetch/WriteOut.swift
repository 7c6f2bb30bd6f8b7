import SwproxyCurl

/// curl's `-w/--write-out` format: literal text with `\n \r \t \\` escapes, `%%`, `%{variable}`,
/// `%header{name}`, and `%{stdout}`/`%{stderr}` to switch streams; `%{onerror}` drops the rest when the
/// transfer succeeded.
/// - SeeAlso: curl(1), "-w, --write-out"
public struct WriteOutFormat: Sendable {
    enum Segment: Sendable, Equatable {
        case text(String)
        case variable(String)
        case header(String)
        case toStdout
        case toStderr
        case onError
    }

    public enum Stream: Sendable { case stdout, stderr }

    let segments: [Segment]
    /// Variable names that are not known, for a warning.
    public let unknown: [String]

    static let variables: Set<String> = [
        "content_type", "errormsg", "exitcode", "filename_effective", "ftp_entry_path", "header_json",
        "http_code", "http_connect", "http_version", "json", "local_ip", "local_port", "method", "num_connects",
        "num_headers", "num_redirects", "num_retries", "proxy_ssl_verify_result", "redirect_url", "referer",
        "remote_ip", "remote_port", "response_code", "scheme", "size_download", "size_header", "size_request",
        "size_upload", "speed_download", "speed_upload", "ssl_verify_result", "time_appconnect", "time_connect",
        "time_namelookup", "time_pretransfer", "time_redirect", "time_starttransfer", "time_total", "url",
        "url_effective", "urlnum",
    ]

    public init(_ format: String) {
        var segs: [Segment] = []
        var unknown: [String] = []
        var text = ""
        var chars = Array(format)[...]
        func flush() {
            if !text.isEmpty { segs.append(.text(text)) }
            text = ""
        }
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "\\", let n = chars.first {
                switch n {
                case "n": text.append("\n")
                case "r": text.append("\r")
                case "t": text.append("\t")
                case "\\": text.append("\\")
                default: text.append("\\"); text.append(n)
                }
                chars = chars.dropFirst()
            } else if c == "%" {
                if chars.first == "%" {
                    text.append("%")
                    chars = chars.dropFirst()
                } else if chars.starts(with: "{"), let close = chars.firstIndex(of: "}") {
                    let name = String(chars[chars.index(after: chars.startIndex)..<close])
                    chars = chars[chars.index(after: close)...]
                    flush()
                    switch name {
                    case "stdout": segs.append(.toStdout)
                    case "stderr": segs.append(.toStderr)
                    case "onerror": segs.append(.onError)
                    default:
                        if WriteOutFormat.variables.contains(name) {
                            segs.append(.variable(name))
                        } else {
                            unknown.append(name)
                        }
                    }
                } else if chars.starts(with: "header{"), let close = chars.firstIndex(of: "}") {
                    let name = String(chars[chars.index(chars.startIndex, offsetBy: 7)..<close])
                    chars = chars[chars.index(after: close)...]
                    flush()
                    segs.append(.header(name))
                } else {
                    text.append("%")
                }
            } else {
                text.append(c)
            }
        }
        flush()
        segments = segs
        self.unknown = unknown
    }

    /// The text for one finished transfer, split by the stream it goes to.
    public func render(_ r: TransferReport) -> [(Stream, String)] {
        var out: [(Stream, String)] = []
        var stream = Stream.stdout
        var current = ""
        func switchTo(_ s: Stream) {
            if !current.isEmpty { out.append((stream, current)) }
            current = ""
            stream = s
        }
        loop: for seg in segments {
            switch seg {
            case .text(let t): current += t
            case .variable(let name): current += WriteOutFormat.value(name, r)
            case .header(let name): current += r.header(name) ?? ""
            case .toStdout: switchTo(.stdout)
            case .toStderr: switchTo(.stderr)
            case .onError: if r.exitCode == 0 { break loop }
            }
        }
        switchTo(stream)
        return out
    }

    static func seconds(_ us: Int64) -> String {
        let s = us / 1_000_000
        let frac = String(us % 1_000_000)
        return "\(s)." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    /// One variable's text, formatted as curl formats it.
    static func value(_ name: String, _ r: TransferReport) -> String {
        switch name {
        case "content_type": return r.contentType ?? ""
        case "errormsg": return r.errorMessage
        case "exitcode": return String(r.exitCode)
        case "filename_effective": return r.filename ?? ""
        case "ftp_entry_path": return ""
        case "http_code", "response_code": return threeDigits(r.responseCode)
        case "http_connect": return threeDigits(r.connectCode)
        case "http_version": return r.httpVersionString
        case "local_ip": return r.localIP ?? ""
        case "local_port": return String(r.localPort)
        case "method": return r.method ?? ""
        case "num_connects": return String(r.numConnects)
        case "num_headers": return String(r.numHeaders)
        case "num_redirects": return String(r.numRedirects)
        case "num_retries": return String(r.numRetries)
        case "proxy_ssl_verify_result": return String(r.proxySSLVerifyResult)
        case "redirect_url": return r.redirectURL ?? ""
        case "referer": return r.referer ?? ""
        case "remote_ip": return r.remoteIP ?? ""
        case "remote_port": return String(r.remotePort)
        case "scheme": return r.scheme ?? ""
        case "size_download": return String(r.sizeDownload)
        case "size_header": return String(r.sizeHeader)
        case "size_request": return String(r.sizeRequest)
        case "size_upload": return String(r.sizeUpload)
        case "speed_download": return String(r.speedDownload)
        case "speed_upload": return String(r.speedUpload)
        case "ssl_verify_result": return String(r.sslVerifyResult)
        case "time_appconnect": return seconds(r.timeAppConnect)
        case "time_connect": return seconds(r.timeConnect)
        case "time_namelookup": return seconds(r.timeNameLookup)
        case "time_pretransfer": return seconds(r.timePreTransfer)
        case "time_redirect": return seconds(r.timeRedirect)
        case "time_starttransfer": return seconds(r.timeStartTransfer)
        case "time_total": return seconds(r.timeTotal)
        case "url": return r.url
        case "url_effective": return r.effectiveURL
        case "urlnum": return String(r.urlIndex)
        case "json": return json(r)
        case "header_json": return headerJSON(r)
        default: return ""
        }
    }

    static func threeDigits(_ n: Int) -> String {
        let s = String(n)
        return s.count < 3 ? String(repeating: "0", count: 3 - s.count) + s : s
    }

    /// `%{json}`: every variable, as curl writes it (strings quoted, numbers bare, times as seconds).
    static func json(_ r: TransferReport) -> String {
        var fields: [String] = []
        let numeric: Set<String> = [
            "exitcode", "http_code", "http_connect", "local_port", "num_connects", "num_headers", "num_redirects",
            "num_retries", "proxy_ssl_verify_result", "remote_port", "response_code", "size_download", "size_header",
            "size_request", "size_upload", "speed_download", "speed_upload", "ssl_verify_result", "urlnum",
        ]
        for name in variables.sorted() where name != "json" && name != "header_json" {
            let v = value(name, r)
            if name.hasPrefix("time_") {
                fields.append("\"\(name)\":\(v)")
            } else if numeric.contains(name) {
                fields.append("\"\(name)\":\(Int(v) ?? 0)")
            } else if v.isEmpty && name != "errormsg" && name != "url" {
                fields.append("\"\(name)\":null")
            } else {
                fields.append("\"\(name)\":\(JSON.quote(v))")
            }
        }
        fields.append("\"curl_version\":\(JSON.quote(curlVersionString))")
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func headerJSON(_ r: TransferReport) -> String {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for (n, v) in r.headers {
            let key = n.lowercased()
            if values[key] == nil { order.append(key) }
            values[key, default: []].append(v)
        }
        let fields = order.map { k in
            "\(JSON.quote(k)):[" + values[k]!.map(JSON.quote).joined(separator: ",") + "]"
        }
        return "{" + fields.joined(separator: ",\n") + "\n}"
    }

    static var curlVersionString: String { "libcurl/\(CurlVersion.current.version)" }
}

/// The little JSON writing fetch needs (no Foundation on this path).
enum JSON {
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
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
}
