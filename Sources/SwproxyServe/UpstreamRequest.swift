import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// How a forwarded request is put to libcurl: the easy handle's options for one exchange (URL and
/// request target, upstream proxy, HTTP version, TLS, timeouts, method and upload) and the forwarded fields.
enum UpstreamRequest {
    /// CURLOPT_BUFFERSIZE: what one read of the upstream socket takes. libcurl allocates it per transfer
    /// and frees it when the transfer is done; a large body then costs one `recvfrom` and one `sendto` per
    /// 256 KiB (see `ProxyExchange.transferReceivedBody`) instead of one per 100 KiB and seven per 100 KiB.
    static let receiveBuffer = 256 << 10

    static func configure(_ easy: EasyHandle, head: RequestHead, route: UpstreamRoute, settings: ConfigSnapshot,
                          body: RequestBody, fields: [String])
    {
        easy.set(.url, route.url)
        easy.set(.requestTarget, route.requestTarget)
        easy.set(.proxy, route.proxy)  // "" = direct: never a proxy from the environment
        easy.set(.noProxy, "")  // and no getenv("no_proxy") per request
        if route.proxyTunnel { easy.set(.httpProxyTunnel, true) }
        // CURL_HTTP_VERSION_1_1 = 2, _2TLS = 4 (h2 by ALPN for https://), _2_PRIOR_KNOWLEDGE = 5
        easy.set(.httpVersion, settings.value.upstreamH2C ? 5 : settings.value.upstreamHTTP2 ? 4 : 2)
        if settings.value.upstreamH2C || settings.value.upstreamHTTP2 {
            // Wait for a connection that may multiplex rather than open one per request.
            easy.set(.pipeWait, true)
        }
        if let ca = settings.value.upstreamCACert {
            easy.set(.caInfo, ca)
            easy.set(.proxyCAInfo, ca)
        }
        if settings.value.upstreamInsecure { easy.disableTLSVerification() }
        easy.set(.httpTransferDecoding, false)
        easy.set(.httpContentDecoding, false)
        easy.set(.bufferSize, UpstreamRequest.receiveBuffer)
        easy.set(.tcpNoDelay, true)
        easy.set(.connectTimeoutMilliseconds, max(1, Int(settings.value.connectTimeout * 1000)))
        // Only the client's own Expect reaches libcurl (an empty `Expect:` line stops libcurl adding one). An
        // origin that ignores it never sends 100: libcurl then sends the body after this wait, as the client
        // itself does (curl waits 1 s); a longer wait would hold such uploads until --read-timeout.
        easy.set(.expect100TimeoutMilliseconds, 1000)
        if head.method == "HEAD" {
            easy.set(.noBody, true)
        } else if head.method != "GET" || body.present {
            easy.set(.customRequest, head.method)
        }
        if body.present {
            easy.set(.upload, true)
            if case .contentLength(let n) = head.framing { easy.set(.inFileSize, Int64(n)) } else { easy.set(.inFileSize, -1) }
        }
        easy.replaceHeaders(fields)
    }

    /// What `configure` sets on a handle beyond a request's URL, target and fields, for a GET without a body:
    /// two such requests with equal profiles leave a handle configured alike, so the second can take the
    /// first's handle as it is (see `LoopContext.takePlain`) and set only those three again (`reconfigure`).
    struct PlainProfile: Equatable {
        /// The configuration (`ConfigSnapshot`) the handle was set up from, with its address filter.
        let settings: ObjectIdentifier
        let proxy: String
        let proxyTunnel: Bool
    }

    /// The request's profile, or nil when its handle is set up as no other's may be (a method other than
    /// GET, a body).
    static func plainProfile(_ head: RequestHead, route: UpstreamRoute, settings: ConfigSnapshot, body: RequestBody)
        -> PlainProfile?
    {
        guard head.method == "GET", !body.present else { return nil }
        return PlainProfile(settings: ObjectIdentifier(settings), proxy: route.proxy, proxyTunnel: route.proxyTunnel)
    }

    /// A handle that `configure` set up for a request of the same profile, made ready for this one: the
    /// options that differ between such requests (libcurl keeps every other from one transfer to the next).
    static func reconfigure(_ easy: EasyHandle, route: UpstreamRoute, fields: [String]) {
        easy.set(.url, route.url)
        easy.set(.requestTarget, route.requestTarget)
        easy.replaceHeaders(fields)
    }

    /// The forwarded fields (UpstreamHead) as libcurl header lines, plus empty `Accept:`/`Expect:` lines that
    /// stop libcurl adding its own when the client sent none. libcurl adds `Expect: 100-continue` only to
    /// uploads, so a request without a body needs no `Expect:` line (each entry costs libcurl a scan per
    /// name it looks up).
    static func headerLines(_ head: RequestHead, settings: ConfigSnapshot, client: ClientSide) -> [String] {
        let fields = UpstreamHead(settings: settings, head: head, client: client.peer, clientHost: client.peerHost).fields()
        var out = UpstreamHead.curlLines(fields)
        if head.field("accept") == nil { out.append("Accept:") }
        if head.framing != .none && head.field("expect") == nil { out.append("Expect:") }
        return out
    }
}
