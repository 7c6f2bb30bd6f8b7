/// What is known about one finished URL: the values behind `-w` variables and the `--report` line.
public struct TransferReport: Sendable {
    public var urlIndex = 0
    /// `--segments`: the segments the body was fetched in, over how many connections (0: not segmented).
    public var segments = 0
    public var connections = 0
    public var url = ""
    public var effectiveURL = ""
    public var exitCode: Int32 = 0
    public var errorMessage = ""
    public var responseCode = 0
    public var connectCode = 0
    public var httpVersion = 0
    public var contentType: String?
    public var filename: String?
    public var localIP: String?
    public var localPort = 0
    public var remoteIP: String?
    public var remotePort = 0
    public var method: String?
    public var numConnects = 0
    public var numHeaders = 0
    public var numRedirects = 0
    public var numRetries = 0
    public var redirectURL: String?
    public var referer: String?
    public var scheme: String?
    public var sizeDownload: Int64 = 0
    public var sizeUpload: Int64 = 0
    public var sizeHeader = 0
    public var sizeRequest = 0
    public var speedDownload: Int64 = 0
    public var speedUpload: Int64 = 0
    public var sslVerifyResult = 0
    public var proxySSLVerifyResult = 0
    /// Microseconds, as libcurl reports them.
    public var timeNameLookup: Int64 = 0
    public var timeConnect: Int64 = 0
    public var timeAppConnect: Int64 = 0
    public var timePreTransfer: Int64 = 0
    public var timeStartTransfer: Int64 = 0
    public var timeRedirect: Int64 = 0
    public var timeTotal: Int64 = 0
    /// Header fields of the last response, in order, names as received.
    public var headers: [(name: String, value: String)] = []

    public init() {}

    /// The last value of a header field, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.last(where: { $0.name.lowercased() == n })?.value
    }

    /// curl's spelling of the HTTP version for `%{http_version}`.
    public var httpVersionString: String {
        switch httpVersion {
        case 1: return "1"
        case 2: return "1.1"
        case 3: return "2"
        case 30: return "3"
        default: return "0"
        }
    }
}
