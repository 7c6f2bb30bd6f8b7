import Glibc
import SwproxyCurl

/// `--libcurl FILE`: C source that does the first URL's transfer with libcurl, written as curl 7.88 writes
/// it (its tool_easysrc.c and tool_setopt.c): the options curl(1) would set for these arguments, in the
/// order it sets them, values that equal libcurl's defaults left out, and a comment naming the callbacks
/// and pointers that cannot be written as source. fetch's own additions (its socket callbacks, a pooled
/// handle) are not part of it: the program is the curl-equivalent transfer.
struct LibcurlSource {
    private var decl: [String] = []
    private var data: [String] = []
    private var code: [String] = ["hnd = curl_easy_init();"]
    private var clean: [String] = []
    private var tooHard: [String] = []
    private var slists = 0
    private var mimes = 0

    static func write(_ path: String, step: PlanStep, item: PlannedURL, traced: Bool) throws(FetchError) {
        var s = LibcurlSource()
        s.build(step: step, item: item, traced: traced)
        let text = s.render()
        if path == "-" {
            Console.writeStdout(text)
            return
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FetchError(.writeError, "Failed to open \(path) to write libcurl code!") }
        defer { _ = close(fd) }
        var t = text
        t.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    private mutating func set(_ name: String, _ value: String) {
        code.append("curl_easy_setopt(hnd, CURLOPT_\(name), \(value));")
    }

    private mutating func long(_ name: String, _ v: Int, default d: Int = 0) {
        if v != d { set(name, "\(v)L") }
    }

    private mutating func flag(_ name: String, _ on: Bool) { if on { set(name, "1L") } }

    private mutating func str(_ name: String, _ v: String?) {
        if let v { set(name, "\"\(LibcurlSource.escape(Array(v.utf8)))\"") }
    }

    private mutating func remark(_ names: String...) {
        for n in names {
            let kind = n.hasSuffix("FUNCTION") ? "a function pointer" : "an object pointer"
            tooHard.append("CURLOPT_\(n) was set to \(kind)")
        }
    }

    private mutating func slist(_ name: String, _ items: [String]) {
        guard !items.isEmpty else { return }
        let n = newSlist(items)
        set(name, "slist\(n)")
    }

    private mutating func newSlist(_ items: [String]) -> Int {
        slists += 1
        let n = slists
        decl.append("struct curl_slist *slist\(n);")
        data.append("slist\(n) = NULL;")
        clean += ["curl_slist_free_all(slist\(n));", "slist\(n) = NULL;"]
        for i in items { data.append("slist\(n) = curl_slist_append(slist\(n), \"\(LibcurlSource.escape(Array(i.utf8)))\");") }
        return n
    }

    /// libcurl_generate_mime: a mime structure and its parts, in order.
    private mutating func mime(_ parts: [MimePart]) -> Int {
        mimes += 1
        let m = mimes
        decl.append("curl_mime *mime\(m);")
        data.append("mime\(m) = NULL;")
        code.append("mime\(m) = curl_mime_init(hnd);")
        clean += ["curl_mime_free(mime\(m));", "mime\(m) = NULL;"]
        if !parts.isEmpty { decl.append("curl_mimepart *part\(m);") }
        for p in parts {
            code.append("part\(m) = curl_mime_addpart(mime\(m));")
            var filename = p.filename
            switch p.content {
            case .parts(let sub):
                let s = mime(sub)
                code += ["curl_mime_subparts(part\(m), mime\(s));", "mime\(s) = NULL;"]
            case .value(let v):
                code.append("curl_mime_data(part\(m), \"\(LibcurlSource.escape(Array(v.utf8)))\", CURL_ZERO_TERMINATED);")
            case .file(let f), .fileContent(let f):
                code.append("curl_mime_filedata(part\(m), \"\(LibcurlSource.escape(Array(f.utf8)))\");")
                if case .fileContent = p.content, filename == nil { code.append("curl_mime_filename(part\(m), NULL);") }
            case .bytes(_, let isFile):
                if isFile && filename == nil { filename = "-" }
                code += ["curl_mime_data_cb(part\(m), -1, (curl_read_callback) fread, \\",
                         "                  (curl_seek_callback) fseek, NULL, stdin);"]
            }
            if let e = p.encoder { code.append("curl_mime_encoder(part\(m), \"\(LibcurlSource.escape(Array(e.utf8)))\");") }
            if let f = filename { code.append("curl_mime_filename(part\(m), \"\(LibcurlSource.escape(Array(f.utf8)))\");") }
            if let n = p.name { code.append("curl_mime_name(part\(m), \"\(LibcurlSource.escape(Array(n.utf8)))\");") }
            if let t = p.contentType { code.append("curl_mime_type(part\(m), \"\(LibcurlSource.escape(Array(t.utf8)))\");") }
            if !p.headers.isEmpty {
                let n = newSlist(p.headers)
                code += ["curl_mime_headers(part\(m), slist\(n), 1);", "slist\(n) = NULL;"]
            }
        }
        return m
    }

    /// tool_setopt_bitmask: the CURLAUTH_ names of a mask, combinations first, one per line.
    private mutating func auth(_ name: String, _ v: Int) {
        guard v != 0 else { return }
        let mask = UInt(bitPattern: v)
        let names: [(UInt, String)] = [
            (~UInt(16), "CURLAUTH_ANY"), (~UInt(17), "CURLAUTH_ANYSAFE"),
            (1, "CURLAUTH_BASIC"), (2, "CURLAUTH_DIGEST"), (4, "CURLAUTH_GSSNEGOTIATE"), (8, "CURLAUTH_NTLM"),
            (16, "CURLAUTH_DIGEST_IE"), (32, "CURLAUTH_NTLM_WB"), (UInt(1) << 31, "CURLAUTH_ONLY"), (0, "CURLAUTH_NONE"),
        ]
        var preamble = "curl_easy_setopt(hnd, CURLOPT_\(name), "
        var rest = mask
        for (value, n) in names where value & ~rest == 0 {
            rest &= ~value
            code.append("\(preamble)(long)\(n)\(rest != 0 ? " |" : ");")")
            if rest == 0 { break }
            preamble = String(repeating: " ", count: preamble.count)
        }
        if rest != 0 { code.append("\(preamble)\(rest)UL);") }
    }

    private mutating func build(step: PlanStep, item: PlannedURL, traced: Bool) {
        let o = step.options
        let c = o.curl
        let r = step.request
        remark("WRITEDATA", "INTERLEAVEDATA", "WRITEFUNCTION", "READDATA", "READFUNCTION", "SEEKDATA", "SEEKFUNCTION")
        long("BUFFERSIZE", c.limitRate.map { $0 > 0 && $0 < 102_400 ? Int($0) : 102_400 } ?? 102_400)
        str("URL", item.url)
        flag("NOPROGRESS", o.silent || o.progress == .off)
        flag("NOBODY", r.noBody)
        str("XOAUTH2_BEARER", c.oauth2Bearer)
        str("PROXY", o.proxy)
        if let t = c.proxyType {
            let names = [0: "CURLPROXY_HTTP", 1: "CURLPROXY_HTTP_1_0", 2: "CURLPROXY_HTTPS", 4: "CURLPROXY_SOCKS4",
                         5: "CURLPROXY_SOCKS5", 6: "CURLPROXY_SOCKS4A", 7: "CURLPROXY_SOCKS5_HOSTNAME"]
            if t != 0 { set("PROXYTYPE", "(long)" + (names[t] ?? "\(t)")) }
        }
        str("PROXYUSERPWD", c.proxyUser)
        flag("HTTPPROXYTUNNEL", c.proxyTunnel)
        str("PRE_PROXY", c.preProxy)
        if let a = c.proxyAuth { auth("PROXYAUTH", a) }
        str("NOPROXY", o.noProxy)
        flag("SUPPRESS_CONNECT_HEADERS", c.suppressConnectHeaders)
        flag("FAILONERROR", o.fail && o.failOn == nil)
        str("REQUEST_TARGET", c.requestTarget)
        flag("UPLOAD", item.uploadFile != nil)
        if let n = c.netrc { set("NETRC", n == 2 ? "(long)CURL_NETRC_REQUIRED" : "(long)CURL_NETRC_OPTIONAL") }
        str("NETRC_FILE", c.netrcFile)
        flag("TRANSFERTEXT", c.useASCII)
        str("USERPWD", o.user)
        str("RANGE", c.range)
        remark("ERRORBUFFER")
        if let t = o.maxTime { long("TIMEOUT_MS", max(1, Int(t * 1000))) }
        if let body = r.body, !r.getWithData {
            set("POSTFIELDS", "\"\(LibcurlSource.escape(body))\"")
            set("POSTFIELDSIZE_LARGE", "(curl_off_t)\(body.count)")
        }
        if !r.forms.isEmpty {
            let m = mime(r.forms)
            set("MIMEPOST", "mime\(m)")
            long("MIME_OPTIONS", c.formEscape ? 1 : 0)
        }
        if let a = c.httpAuth { auth("HTTPAUTH", a) }
        slist("HTTPHEADER", r.headers)
        str("REFERER", o.referer.map { $0.hasSuffix(";auto") ? String($0.dropLast(5)) : $0 }.flatMap { $0.isEmpty ? nil : $0 })
        str("USERAGENT", o.userAgent ?? FetchJob.defaultUserAgent)
        flag("FOLLOWLOCATION", o.location || c.locationTrusted)
        flag("UNRESTRICTED_AUTH", c.locationTrusted)
        flag("AUTOREFERER", o.referer?.hasSuffix(";auto") ?? false)
        if !c.proxyHeaders.isEmpty {
            slist("PROXYHEADER", c.proxyHeaders)
            set("HEADEROPT", "1L")
        }
        long("MAXREDIRS", o.maxRedirects)
        if let v = o.httpVersion {
            let names = [1: "CURL_HTTP_VERSION_1_0", 2: "CURL_HTTP_VERSION_1_1", 3: "CURL_HTTP_VERSION_2_0",
                         4: "CURL_HTTP_VERSION_2TLS", 5: "CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE"]
            set("HTTP_VERSION", "(long)" + (names[v.rawValue] ?? "\(v.rawValue)"))
        } else {
            set("HTTP_VERSION", "(long)CURL_HTTP_VERSION_2TLS")
        }
        long("POSTREDIR", c.postRedirect)
        if o.compressed { str("ACCEPT_ENCODING", "") }
        flag("TRANSFER_ENCODING", c.transferEncoding)
        flag("HTTP09_ALLOWED", c.http09)
        if let l = c.limitRate {
            set("MAX_SEND_SPEED_LARGE", "(curl_off_t)\(l)")
            set("MAX_RECV_SPEED_LARGE", "(curl_off_t)\(l)")
        }
        if let at = o.continueAt { set("RESUME_FROM_LARGE", "(curl_off_t)\(at)") }
        else if o.continueAuto { set("RESUME_FROM_LARGE", "(curl_off_t)\(item.uploadFile != nil ? -1 : 0)") }
        str("CAINFO", o.caCert)
        str("CAPATH", o.caPath)
        if o.insecure {
            set("SSL_VERIFYPEER", "0L")
            set("SSL_VERIFYHOST", "0L")
        } else {
            set("SSL_VERIFYPEER", "1L")
        }
        if c.proxyInsecure {
            set("PROXY_SSL_VERIFYPEER", "0L")
            set("PROXY_SSL_VERIFYHOST", "0L")
        }
        flag("PATH_AS_IS", c.pathAsIs)
        let cookieStrings = o.cookies.filter { $0.contains("=") }
        if !cookieStrings.isEmpty { str("COOKIE", cookieStrings.joined(separator: ";")) }
        for f in o.cookies where !f.contains("=") { str("COOKIEFILE", f) }
        str("COOKIEJAR", o.cookieJar)
        flag("COOKIESESSION", c.junkSessionCookies)
        if let (kind, time) = c.timeCondition, kind != 0 {
            let names = [1: "CURL_TIMECOND_IFMODSINCE", 2: "CURL_TIMECOND_IFUNMODSINCE", 3: "CURL_TIMECOND_LASTMOD"]
            set("TIMECONDITION", "(long)" + (names[kind] ?? "\(kind)"))
            set("TIMEVALUE_LARGE", "(curl_off_t)\(time)")
        }
        str("CUSTOMREQUEST", item.overrides.method ?? r.customMethod)
        remark("STDERR")
        str("INTERFACE", c.interface)
        if let t = o.connectTimeout { long("CONNECTTIMEOUT_MS", max(1, Int(t * 1000))) }
        if traced {
            remark("DEBUGFUNCTION", "DEBUGDATA")
            set("VERBOSE", "1L")
        }
        if let m = c.maxFileSize { set("MAXFILESIZE_LARGE", "(curl_off_t)\(m)") }
        if let ip = c.ipResolve { set("IPRESOLVE", ip == 1 ? "1L" : "2L") }
        flag("IGNORE_CONTENT_LENGTH", c.ignoreContentLength)
        if CurlVersion.current.protocols.contains("ftp") { set("FTP_SKIP_PASV_IP", "1L") }
        if c.raw {
            set("HTTP_CONTENT_DECODING", "0L")
            set("HTTP_TRANSFER_DECODING", "0L")
        }
        set("TCP_KEEPALIVE", "1L")
        str("PROTOCOLS_STR", c.protocols)
        str("REDIR_PROTOCOLS_STR", c.redirectProtocols)
        remark("HEADERFUNCTION", "HEADERDATA")
        slist("RESOLVE", c.resolve)
        slist("CONNECT_TO", c.connectTo)
        str("UNIX_SOCKET_PATH", c.unixSocket)
        str("DEFAULT_PROTOCOL", c.defaultProtocol)
        flag("HAPROXYPROTOCOL", c.haproxyProtocol)
        flag("DISALLOW_USERNAME_IN_URL", c.disallowUsernameInURL)
        str("ALTSVC", c.altSvcFile)
        str("HSTS", c.hstsFile)
    }

    private func render() -> String {
        var out = """
            /********* Sample code generated by the curl command line tool **********
             * All curl_easy_setopt() options are documented at:
             * https://curl.se/libcurl/c/curl_easy_setopt.html
             ************************************************************************/
            #include <curl/curl.h>

            int main(int argc, char *argv[])
            {
              CURLcode ret;
              CURL *hnd;

            """
        for d in decl { out += "  \(d)\n" }
        if !data.isEmpty {
            out += "\n"
            for d in data { out += "  \(d)\n" }
        }
        out += "\n"
        var body = code
        if !tooHard.isEmpty {
            body += ["", "/* Here is a list of options the curl code used that cannot get generated",
                     "   as source easily. You may choose to either not use them or implement", "   them yourself.", ""]
            body += tooHard
            body += ["", "*/"]
        }
        body += ["", "ret = curl_easy_perform(hnd);", "", "curl_easy_cleanup(hnd);", "hnd = NULL;"]
        for line in body { out += line.isEmpty ? "\n" : "  \(line)\n" }
        for c in clean { out += "  \(c)\n" }
        out += "\n  return (int)ret;\n}\n/**** End of sample code ****/\n"
        return out
    }

    /// c_escape: tab, CR, LF, `?` (no trigraphs), `"` and `\` escaped; other unprintable bytes as `\xNN`, or
    /// `\NNN` (octal) when a hex digit follows.
    static func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        let limit = 2000  // MAX_STRING_LENGTH_OUTPUT
        let n = min(bytes.count, limit)
        for i in 0..<n {
            let b = bytes[i]
            switch b {
            case 9: out += "\\t"
            case 13: out += "\\r"
            case 10: out += "\\n"
            case UInt8(ascii: "?"): out += "\\?"
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 32...126: out.append(Character(Unicode.Scalar(b)))
            default:
                let nextIsHex = i + 1 < n && (bytes[i + 1] < 128 && Character(Unicode.Scalar(bytes[i + 1])).isHexDigit)
                if nextIsHex {
                    let o = String(b, radix: 8)
                    out += "\\" + String(repeating: "0", count: max(0, 3 - o.count)) + o
                } else {
                    let h = String(b, radix: 16)
                    out += "\\x" + (h.count < 2 ? "0" : "") + h
                }
            }
        }
        if bytes.count > limit { out += "..." }
        return out
    }
}
