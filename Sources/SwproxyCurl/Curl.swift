internal import CCurl
import Glibc

/// Process-wide libcurl set-up, done once before the first handle (curl_global_init is not thread-safe,
/// a Swift `static let` initialiser is).
public enum CurlGlobal {
    static let initialised: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    static func ensure() {
        precondition(initialised, "curl_global_init failed")
    }
}

/// A libcurl result code (`CURLcode`) with curl's numbering, which is also curl(1)'s exit status.
public struct CurlCode: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ c: CURLcode) { rawValue = Int32(c.rawValue) }

    public static let ok = CurlCode(rawValue: 0)
    public static let unsupportedProtocol = CurlCode(rawValue: 1)
    public static let failedInit = CurlCode(rawValue: 2)
    public static let urlMalformat = CurlCode(rawValue: 3)
    public static let couldntResolveProxy = CurlCode(rawValue: 5)
    public static let couldntResolveHost = CurlCode(rawValue: 6)
    public static let couldntConnect = CurlCode(rawValue: 7)
    public static let partialFile = CurlCode(rawValue: 18)
    public static let httpReturnedError = CurlCode(rawValue: 22)
    public static let writeError = CurlCode(rawValue: 23)
    public static let readError = CurlCode(rawValue: 26)
    public static let outOfMemory = CurlCode(rawValue: 27)
    public static let operationTimedOut = CurlCode(rawValue: 28)
    public static let rangeError = CurlCode(rawValue: 33)
    public static let abortedByCallback = CurlCode(rawValue: 42)
    public static let badFunctionArgument = CurlCode(rawValue: 43)
    public static let tooManyRedirects = CurlCode(rawValue: 47)
    public static let gotNothing = CurlCode(rawValue: 52)
    public static let sendError = CurlCode(rawValue: 55)
    public static let recvError = CurlCode(rawValue: 56)
    public static let peerFailedVerification = CurlCode(rawValue: 60)
    public static let readFileError = CurlCode(rawValue: 37)
    public static let sslConnectError = CurlCode(rawValue: 35)
    public static let sslCertProblem = CurlCode(rawValue: 58)
    public static let sslCACertBadFile = CurlCode(rawValue: 77)
    public static let sslIssuerError = CurlCode(rawValue: 83)
    public static let sslPinnedPublicKeyMismatch = CurlCode(rawValue: 90)
    public static let sslInvalidCertStatus = CurlCode(rawValue: 91)
    /// CURLE_PROXY: the proxy answered, but refused the handshake or the destination.
    public static let proxy = CurlCode(rawValue: 97)

    /// libcurl's generic text for the code (`curl_easy_strerror`).
    public var description: String { String(cString: curl_easy_strerror(CURLcode(UInt32(rawValue)))) }
}

/// What this libcurl build is and can do (`curl_version_info`).
public struct CurlVersion: Sendable {
    public let version: String
    public let ssl: String?
    public let protocols: [String]
    public let features: [String]

    public static let current: CurlVersion = {
        CurlGlobal.ensure()
        let info = curl_version_info(CURLversion(UInt32(ccurl_version_now())))!.pointee
        var protocols: [String] = []
        if var p = info.protocols {
            while let s = p.pointee {
                protocols.append(String(cString: s))
                p += 1
            }
        }
        let bits = info.features
        let named: [(Int32, String)] = [
            (CURL_VERSION_IPV6, "IPv6"), (CURL_VERSION_SSL, "SSL"), (CURL_VERSION_LIBZ, "libz"),
            (CURL_VERSION_HTTP2, "HTTP2"), (CURL_VERSION_HTTP3, "HTTP3"), (CURL_VERSION_BROTLI, "brotli"),
            (CURL_VERSION_ZSTD, "zstd"), (CURL_VERSION_ASYNCHDNS, "AsynchDNS"), (CURL_VERSION_UNIX_SOCKETS, "UnixSockets"),
            (CURL_VERSION_HTTPS_PROXY, "HTTPS-proxy"), (CURL_VERSION_LARGEFILE, "Largefile"),
            (CURL_VERSION_THREADSAFE, "threadsafe"),
        ]
        return CurlVersion(
            version: String(cString: info.version),
            ssl: info.ssl_version.map { String(cString: $0) },
            protocols: protocols,
            features: named.filter { bits & $0.0 != 0 }.map { $0.1 })
    }()

    public func has(_ feature: String) -> Bool { features.contains(feature) }
}

extension CurlGlobal {
    /// Initialises libcurl before threads start (curl_global_init is not thread-safe on every build).
    public static func initialise() { ensure() }
}

/// libcurl's date parser (`curl_getdate`): RFC 822/850/1123 dates, ISO 8601-ish forms, relative to now.
public enum CurlDate {
    /// Seconds since the epoch, or nil when the text is no date libcurl knows.
    public static func parse(_ text: String) -> Int64? {
        var now = time(nil)
        let t = curl_getdate(text, &now)
        return t == -1 ? nil : Int64(t)
    }
}

/// libcurl's URL parser (`curl_url`), for what curl(1) does with it before a transfer.
public enum CurlURL {
    /// The URL with `query` added to its query (`&` between), as curl does for `-G` and `--url-query`
    /// (`CURLU_APPENDQUERY`, scheme guessed; libcurl normalizes the URL on the way); nil when libcurl
    /// cannot parse it.
    public static func appendingQuery(_ url: String, _ query: String) -> String? {
        guard let u = curl_url() else { return nil }
        defer { curl_url_cleanup(u) }
        guard curl_url_set(u, CURLUPART_URL, url, UInt32(CURLU_GUESS_SCHEME)) == CURLUE_OK,
            curl_url_set(u, CURLUPART_QUERY, query, UInt32(CURLU_APPENDQUERY)) == CURLUE_OK
        else { return nil }
        var out: UnsafeMutablePointer<CChar>?
        guard curl_url_get(u, CURLUPART_URL, &out, UInt32(CURLU_GUESS_SCHEME)) == CURLUE_OK, let o = out else {
            return nil
        }
        defer { curl_free(o) }
        return String(cString: o)
    }
}

extension CurlURL {
    /// `curl_easy_escape`: everything but RFC 3986 unreserved characters percent-encoded.
    public static func escape(_ text: String) -> String {
        guard let e = curl_easy_escape(nil, text, Int32(text.utf8.count)) else { return text }
        defer { curl_free(e) }
        return String(cString: e)
    }
}

extension CurlURL {
    /// curl's `-T FILE URL/` (add_file_name_to_url): a URL whose path has no file name gets the local
    /// file's (after its last `/` or `\\`), percent-encoded; the URL as libcurl writes it back. nil when
    /// libcurl cannot parse the URL.
    public static func addingFileName(_ url: String, _ file: String) -> String? {
        guard let u = curl_url() else { return nil }
        defer { curl_url_cleanup(u) }
        guard curl_url_set(u, CURLUPART_URL, url, UInt32(CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME)) == CURLUE_OK
        else { return nil }
        var p: UnsafeMutablePointer<CChar>?
        guard curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK, let pathC = p else { return nil }
        let path = String(cString: pathC)
        curl_free(pathC)
        if let slash = path.lastIndex(of: "/"), path.index(after: slash) != path.endIndex { return url }
        var name = Substring(file)
        if let s = name.lastIndex(of: "/") { name = name[name.index(after: s)...] }
        if let s = name.lastIndex(of: "\\") { name = name[name.index(after: s)...] }
        let newPath = (path.hasSuffix("/") ? path : path + "/") + escape(String(name))
        guard curl_url_set(u, CURLUPART_PATH, newPath, 0) == CURLUE_OK else { return nil }
        var out: UnsafeMutablePointer<CChar>?
        guard curl_url_get(u, CURLUPART_URL, &out, UInt32(CURLU_DEFAULT_SCHEME)) == CURLUE_OK, let o = out else {
            return nil
        }
        defer { curl_free(o) }
        return String(cString: o)
    }
}
