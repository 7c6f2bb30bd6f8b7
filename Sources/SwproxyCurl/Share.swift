internal import CCurl

/// A libcurl share handle (`CURLSH`) so that the transfers of one loop share cookies, DNS answers and TLS
/// sessions. Used from one thread only, so it needs no lock callbacks.
/// - SeeAlso: curl_share_setopt(3)
public final class Share {
    let raw: UnsafeMutableRawPointer
    private var closed = false

    public init(cookies: Bool, dns: Bool, tlsSessions: Bool) {
        CurlGlobal.ensure()
        guard let s = curl_share_init() else { fatalError("curl_share_init failed: out of memory") }
        raw = s
        if cookies { _ = ccurl_share_setopt_long(s, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_COOKIE.rawValue)) }
        if dns { _ = ccurl_share_setopt_long(s, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue)) }
        if tlsSessions { _ = ccurl_share_setopt_long(s, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue)) }
    }

    deinit { assert(closed, "Share deallocated without close()") }

    /// Call after every easy handle using it has been closed.
    public func close() {
        guard !closed else { return }
        closed = true
        curl_share_cleanup(raw)
    }
}

extension EasyHandle {
    public func setShare(_ share: Share) {
        _ = ccurl_easy_setopt_share(raw, share.raw)
    }
}
