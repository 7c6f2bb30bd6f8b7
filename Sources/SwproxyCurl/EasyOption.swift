internal import CCurl

/// A typed libcurl easy option: the phantom `Value` picks the setter, so a string option cannot be set
/// with a number. Only the options swproxy uses are listed.
/// - SeeAlso: curl_easy_setopt(3)
public struct EasyOption<Value>: Sendable {
    let raw: UInt32
    init(_ o: CURLoption) { raw = o.rawValue }
    var option: CURLoption { CURLoption(raw) }
}

extension EasyOption where Value == String {
    public static var url: Self { .init(CURLOPT_URL) }
    public static var customRequest: Self { .init(CURLOPT_CUSTOMREQUEST) }
    public static var userAgent: Self { .init(CURLOPT_USERAGENT) }
    public static var referer: Self { .init(CURLOPT_REFERER) }
    public static var userPassword: Self { .init(CURLOPT_USERPWD) }
    public static var cookie: Self { .init(CURLOPT_COOKIE) }
    public static var cookieFile: Self { .init(CURLOPT_COOKIEFILE) }
    public static var cookieJar: Self { .init(CURLOPT_COOKIEJAR) }
    public static var proxy: Self { .init(CURLOPT_PROXY) }
    public static var noProxy: Self { .init(CURLOPT_NOPROXY) }
    public static var caInfo: Self { .init(CURLOPT_CAINFO) }
    public static var caPath: Self { .init(CURLOPT_CAPATH) }
    public static var proxyCAInfo: Self { .init(CURLOPT_PROXY_CAINFO) }
    public static var acceptEncoding: Self { .init(CURLOPT_ACCEPT_ENCODING) }
    public static var requestTarget: Self { .init(CURLOPT_REQUEST_TARGET) }
    public static var range: Self { .init(CURLOPT_RANGE) }
    public static var interface: Self { .init(CURLOPT_INTERFACE) }
    public static var unixSocketPath: Self { .init(CURLOPT_UNIX_SOCKET_PATH) }
    public static var protocolsString: Self { .init(CURLOPT_PROTOCOLS_STR) }
    public static var redirectProtocolsString: Self { .init(CURLOPT_REDIR_PROTOCOLS_STR) }
    public static var defaultProtocol: Self { .init(CURLOPT_DEFAULT_PROTOCOL) }
    public static var proxyUserPassword: Self { .init(CURLOPT_PROXYUSERPWD) }
    public static var netrcFile: Self { .init(CURLOPT_NETRC_FILE) }
    public static var hsts: Self { .init(CURLOPT_HSTS) }
    public static var altSvc: Self { .init(CURLOPT_ALTSVC) }
    public static var preProxy: Self { .init(CURLOPT_PRE_PROXY) }
    public static var xoauth2Bearer: Self { .init(CURLOPT_XOAUTH2_BEARER) }
}

extension EasyOption where Value == Int {
    public static var maxRedirects: Self { .init(CURLOPT_MAXREDIRS) }
    public static var httpVersion: Self { .init(CURLOPT_HTTP_VERSION) }
    public static var connectTimeoutMilliseconds: Self { .init(CURLOPT_CONNECTTIMEOUT_MS) }
    public static var timeoutMilliseconds: Self { .init(CURLOPT_TIMEOUT_MS) }
    public static var bufferSize: Self { .init(CURLOPT_BUFFERSIZE) }
    public static var uploadBufferSize: Self { .init(CURLOPT_UPLOAD_BUFFERSIZE) }
    public static var postRedirect: Self { .init(CURLOPT_POSTREDIR) }
    public static var ipResolve: Self { .init(CURLOPT_IPRESOLVE) }
    public static var lowSpeedLimit: Self { .init(CURLOPT_LOW_SPEED_LIMIT) }
    public static var lowSpeedTime: Self { .init(CURLOPT_LOW_SPEED_TIME) }
    public static var httpAuth: Self { .init(CURLOPT_HTTPAUTH) }
    public static var proxyType: Self { .init(CURLOPT_PROXYTYPE) }
    public static var expect100TimeoutMilliseconds: Self { .init(CURLOPT_EXPECT_100_TIMEOUT_MS) }
    public static var proxyAuth: Self { .init(CURLOPT_PROXYAUTH) }
    public static var headerOptions: Self { .init(CURLOPT_HEADEROPT) }
    public static var timeCondition: Self { .init(CURLOPT_TIMECONDITION) }
    public static var netrc: Self { .init(CURLOPT_NETRC) }
    public static var hstsControl: Self { .init(CURLOPT_HSTS_CTRL) }
    public static var altSvcControl: Self { .init(CURLOPT_ALTSVC_CTRL) }
    public static var proxySSLVerifyHost: Self { .init(CURLOPT_PROXY_SSL_VERIFYHOST) }
}

extension EasyOption where Value == Bool {
    public static var cookieSession: Self { .init(CURLOPT_COOKIESESSION) }
    public static var transferText: Self { .init(CURLOPT_TRANSFERTEXT) }
    public static var followLocation: Self { .init(CURLOPT_FOLLOWLOCATION) }
    public static var autoReferer: Self { .init(CURLOPT_AUTOREFERER) }
    public static var noBody: Self { .init(CURLOPT_NOBODY) }
    public static var post: Self { .init(CURLOPT_POST) }
    public static var upload: Self { .init(CURLOPT_UPLOAD) }
    public static var httpGet: Self { .init(CURLOPT_HTTPGET) }
    public static var failOnError: Self { .init(CURLOPT_FAILONERROR) }
    public static var verbose: Self { .init(CURLOPT_VERBOSE) }
    public static var sslVerifyPeerOff: Self { .init(CURLOPT_SSL_VERIFYPEER) }
    public static var pathAsIs: Self { .init(CURLOPT_PATH_AS_IS) }
    public static var httpTransferDecoding: Self { .init(CURLOPT_HTTP_TRANSFER_DECODING) }
    public static var httpContentDecoding: Self { .init(CURLOPT_HTTP_CONTENT_DECODING) }
    public static var connectOnly: Self { .init(CURLOPT_CONNECT_ONLY) }
    public static var noSignal: Self { .init(CURLOPT_NOSIGNAL) }
    public static var tcpNoDelay: Self { .init(CURLOPT_TCP_NODELAY) }
    public static var tcpKeepAlive: Self { .init(CURLOPT_TCP_KEEPALIVE) }
    public static var forbidReuse: Self { .init(CURLOPT_FORBID_REUSE) }
    public static var httpProxyTunnel: Self { .init(CURLOPT_HTTPPROXYTUNNEL) }
    public static var unrestrictedAuth: Self { .init(CURLOPT_UNRESTRICTED_AUTH) }
    public static var suppressConnectHeaders: Self { .init(CURLOPT_SUPPRESS_CONNECT_HEADERS) }
    public static var pipeWait: Self { .init(CURLOPT_PIPEWAIT) }
    public static var transferEncoding: Self { .init(CURLOPT_TRANSFER_ENCODING) }
    public static var http09Allowed: Self { .init(CURLOPT_HTTP09_ALLOWED) }
    public static var haproxyProtocol: Self { .init(CURLOPT_HAPROXYPROTOCOL) }
    public static var proxySSLVerifyPeer: Self { .init(CURLOPT_PROXY_SSL_VERIFYPEER) }
    public static var ignoreContentLength: Self { .init(CURLOPT_IGNORE_CONTENT_LENGTH) }
    public static var disallowUsernameInURL: Self { .init(CURLOPT_DISALLOW_USERNAME_IN_URL) }
}

extension EasyOption where Value == Int64 {
    public static var resumeFrom: Self { .init(CURLOPT_RESUME_FROM_LARGE) }
    public static var inFileSize: Self { .init(CURLOPT_INFILESIZE_LARGE) }
    public static var postFieldSize: Self { .init(CURLOPT_POSTFIELDSIZE_LARGE) }
    public static var maxFileSize: Self { .init(CURLOPT_MAXFILESIZE_LARGE) }
    public static var maxRecvSpeed: Self { .init(CURLOPT_MAX_RECV_SPEED_LARGE) }
    public static var maxSendSpeed: Self { .init(CURLOPT_MAX_SEND_SPEED_LARGE) }
    public static var timeValue: Self { .init(CURLOPT_TIMEVALUE_LARGE) }
}

extension EasyOption where Value == [String] {
    public static var httpHeader: Self { .init(CURLOPT_HTTPHEADER) }
    public static var proxyHeader: Self { .init(CURLOPT_PROXYHEADER) }
    public static var resolve: Self { .init(CURLOPT_RESOLVE) }
    public static var connectTo: Self { .init(CURLOPT_CONNECT_TO) }
}

/// A typed `curl_easy_getinfo` key.
/// - SeeAlso: curl_easy_getinfo(3)
public struct InfoKey<Value>: Sendable {
    let raw: UInt32
    init(_ i: CURLINFO) { raw = i.rawValue }
    var info: CURLINFO { CURLINFO(raw) }
}

extension InfoKey where Value == Int {
    public static var conditionUnmet: Self { .init(CURLINFO_CONDITION_UNMET) }
    public static var responseCode: Self { .init(CURLINFO_RESPONSE_CODE) }
    public static var httpConnectCode: Self { .init(CURLINFO_HTTP_CONNECTCODE) }
    public static var httpVersion: Self { .init(CURLINFO_HTTP_VERSION) }
    public static var redirectCount: Self { .init(CURLINFO_REDIRECT_COUNT) }
    public static var headerSize: Self { .init(CURLINFO_HEADER_SIZE) }
    public static var requestSize: Self { .init(CURLINFO_REQUEST_SIZE) }
    public static var sslVerifyResult: Self { .init(CURLINFO_SSL_VERIFYRESULT) }
    public static var numConnects: Self { .init(CURLINFO_NUM_CONNECTS) }
    public static var primaryPort: Self { .init(CURLINFO_PRIMARY_PORT) }
    public static var localPort: Self { .init(CURLINFO_LOCAL_PORT) }
    public static var osErrno: Self { .init(CURLINFO_OS_ERRNO) }
    public static var proxySSLVerifyResult: Self { .init(CURLINFO_PROXY_SSL_VERIFYRESULT) }
}

extension InfoKey where Value == Int64 {
    public static var sizeDownload: Self { .init(CURLINFO_SIZE_DOWNLOAD_T) }
    public static var sizeUpload: Self { .init(CURLINFO_SIZE_UPLOAD_T) }
    public static var speedDownload: Self { .init(CURLINFO_SPEED_DOWNLOAD_T) }
    public static var speedUpload: Self { .init(CURLINFO_SPEED_UPLOAD_T) }
    public static var contentLengthDownload: Self { .init(CURLINFO_CONTENT_LENGTH_DOWNLOAD_T) }
    public static var contentLengthUpload: Self { .init(CURLINFO_CONTENT_LENGTH_UPLOAD_T) }
    public static var retryAfter: Self { .init(CURLINFO_RETRY_AFTER) }
    /// Times in microseconds.
    public static var totalTime: Self { .init(CURLINFO_TOTAL_TIME_T) }
    public static var nameLookupTime: Self { .init(CURLINFO_NAMELOOKUP_TIME_T) }
    public static var connectTime: Self { .init(CURLINFO_CONNECT_TIME_T) }
    public static var appConnectTime: Self { .init(CURLINFO_APPCONNECT_TIME_T) }
    public static var preTransferTime: Self { .init(CURLINFO_PRETRANSFER_TIME_T) }
    public static var startTransferTime: Self { .init(CURLINFO_STARTTRANSFER_TIME_T) }
    public static var redirectTime: Self { .init(CURLINFO_REDIRECT_TIME_T) }
}

extension InfoKey where Value == String {
    public static var effectiveURL: Self { .init(CURLINFO_EFFECTIVE_URL) }
    public static var contentType: Self { .init(CURLINFO_CONTENT_TYPE) }
    public static var redirectURL: Self { .init(CURLINFO_REDIRECT_URL) }
    public static var primaryIP: Self { .init(CURLINFO_PRIMARY_IP) }
    public static var localIP: Self { .init(CURLINFO_LOCAL_IP) }
    public static var scheme: Self { .init(CURLINFO_SCHEME) }
    public static var effectiveMethod: Self { .init(CURLINFO_EFFECTIVE_METHOD) }
    public static var referer: Self { .init(CURLINFO_REFERER) }
}
