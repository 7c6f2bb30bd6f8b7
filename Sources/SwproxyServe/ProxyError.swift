import SwproxyCurl
import SwproxyHTTP

/// Every way a proxied request can fail before its response started, with the status, a short plain-text
/// body and the reason written to the access log.
struct ProxyError: Error, Equatable {
    let status: Int
    let message: String
    let logReason: String
    var extraFields: [HeaderField] = []

    static func from(_ e: HTTPError) -> ProxyError {
        ProxyError(status: e.status, message: e.reason, logReason: "bad-request")
    }

    static let forbiddenPort = ProxyError(status: 403, message: "CONNECT to this port is not allowed", logReason: "port-denied")
    static let loop = ProxyError(status: 508, message: "request loop detected", logReason: "loop")
    static let originForm = ProxyError(
        status: 400, message: "a forward proxy needs an absolute URL (http://host/path) or CONNECT", logReason: "bad-request")
    static let reverseOnly = ProxyError(
        status: 400, message: "this is a reverse proxy: send origin-form requests (GET /path)", logReason: "bad-request")
    static let headerTimeout = ProxyError(status: 408, message: "request head not received in time", logReason: "header-timeout")

    /// libcurl's result for an upstream that failed before any response byte: 504 for timeouts, 502 else.
    /// `proxy`: the upstream proxy in use (without credentials), named when the failure is reaching it.
    static func upstream(_ code: CurlCode, _ detail: String, proxy: String? = nil) -> ProxyError {
        if let p = proxy {
            switch code {
            case .couldntResolveProxy:
                return ProxyError(status: 502, message: "upstream proxy \(p) not resolved: \(detail)", logReason: "upstream-resolve")
            case .couldntConnect:
                return ProxyError(status: 502, message: "upstream proxy \(p) refused or unreachable: \(detail)",
                                  logReason: "upstream-connect")
            case .proxy:
                return ProxyError(status: 502, message: "upstream proxy \(p) failed: \(detail)", logReason: "upstream-error")
            default:
                break
            }
        }
        switch code {
        case .operationTimedOut:
            return ProxyError(status: 504, message: "upstream timed out: \(detail)", logReason: "upstream-timeout")
        case .couldntResolveHost:
            return ProxyError(status: 502, message: "upstream name not resolved: \(detail)", logReason: "upstream-resolve")
        case .couldntConnect:
            return ProxyError(status: 502, message: "upstream refused or unreachable: \(detail)", logReason: "upstream-connect")
        case .peerFailedVerification, .sslConnectError, .sslCertProblem, .sslCACertBadFile, .sslIssuerError,
            .sslPinnedPublicKeyMismatch, .sslInvalidCertStatus:
            return ProxyError(status: 502, message: "upstream TLS failure: \(detail)", logReason: "upstream-tls")
        default:
            return ProxyError(status: 502, message: "upstream failure: \(detail)", logReason: "upstream-error")
        }
    }

    static let authRequired = ProxyError(
        status: 407, message: "proxy authentication required", logReason: "auth",
        extraFields: [HeaderField("Proxy-Authenticate", "Basic realm=\"swproxy\"")])
    static let clientDenied = ProxyError(status: 403, message: "client not allowed", logReason: "client-denied")
    static let hostDenied = ProxyError(status: 403, message: "destination host not allowed", logReason: "host-denied")
    static let destinationDenied = ProxyError(
        status: 403, message: "destination address not allowed (private or local)", logReason: "private-address")
    /// A tunnel's ClientHello (after `200 Connection established`: the tunnel is closed, no status is sent).
    static let sniMismatch = ProxyError(status: 403, message: "TLS server name does not match the CONNECT host or is not allowed",
                                        logReason: "sni-mismatch")
    static let sniMissing = ProxyError(status: 403, message: "TLS ClientHello without a server name", logReason: "sni-missing")
    static let sniUnreadable = ProxyError(status: 403, message: "unreadable TLS ClientHello", logReason: "sni-unreadable")
    static let sniTimeout = ProxyError(status: 408, message: "no TLS ClientHello in time", logReason: "sni-timeout")
    static let notTLS = ProxyError(status: 403, message: "the tunnel must carry TLS", logReason: "not-tls")
    static let bodyTooLarge = ProxyError(status: 413, message: "request body too large", logReason: "body-too-large")
    static let readTimeout = ProxyError(status: 504, message: "upstream sent nothing in time", logReason: "upstream-timeout")

    /// The complete response: status line, `Content-Type: text/plain`, `Content-Length`, `Date` (the proxy is
    /// the origin of this answer: RFC 9110 §6.6.1), `Connection: close`; the body is the message and a
    /// `reason:` line with the reason code (what the access log says). `via`: the whole `Via` entry, or nil.
    func response(via: String?) -> [UInt8] {
        let body = Array((message + "\nreason: " + logReason + "\n").utf8)
        var fields = [
            HeaderField("Content-Type", "text/plain; charset=utf-8"),
            HeaderField("Content-Length", String(body.count)),
            HeaderField("Date", HTTPDate.current),
            HeaderField("Connection", "close"),
        ]
        if let v = via { fields.append(HeaderField("Via", v)) }
        fields += extraFields
        return HeadWriter.response(status: status, reason: "", fields: fields) + body
    }
}
