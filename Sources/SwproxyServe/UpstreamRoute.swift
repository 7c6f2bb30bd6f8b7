import SwproxyHTTP

/// An upstream proxy swproxy chains through (`--upstream-proxy`): the URL handed to libcurl, credentials
/// included, and how it may be shown to users (without them).
/// - SeeAlso: CURLOPT_PROXY(3), CURLOPT_HTTPPROXYTUNNEL(3)
public struct UpstreamProxy: Sendable, Equatable {
    public enum Kind: Sendable { case http, socks }
    /// For libcurl: `scheme://[user:pass@]host[:port]`.
    public let url: String
    /// The same without credentials, for messages and logs.
    public let display: String
    public let kind: Kind

    /// Parses `http://`, `https://`, `socks5://` or `socks5h://` URLs (also `socks4://`, `socks4a://`).
    public init?(_ text: String) {
        guard let sep = text.firstRange(of: "://") else { return nil }
        let scheme = text[..<sep.lowerBound].lowercased()
        var rest = Substring(text[sep.upperBound...])
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else { return nil }  // a path means nothing for a proxy
            rest = rest[..<slash]
        }
        let hostPort = rest.lastIndex(of: "@").map { rest[rest.index(after: $0)...] } ?? rest
        guard !hostPort.isEmpty, !hostPort.hasPrefix(":") else { return nil }
        switch scheme {
        case "http", "https": kind = .http
        case "socks5", "socks5h", "socks4", "socks4a": kind = .socks
        default: return nil
        }
        url = "\(scheme)://\(rest)"
        display = "\(scheme)://\(hostPort)"
    }
}

/// Where a request goes, as libcurl needs it: the URL to route by, the request-target to send and the proxy
/// (empty: direct).
struct UpstreamRoute: Equatable {
    /// `scheme://host:port/`: libcurl connects by it; the request-target is sent as given below.
    var url: String
    var requestTarget: String
    /// "" for a direct connection (never a proxy from the environment).
    var proxy: String
    /// Through an HTTP proxy with CONNECT (https:// origins, CONNECT tunnels).
    var proxyTunnel: Bool
    /// For error messages: the upstream proxy in use, without credentials.
    var proxyDisplay: String?
    /// Which `--upstream-proxy` (its index), nil for a direct connection.
    var parent: Int?
}

/// Decides the route of every request from the configuration: forward (absolute-form and CONNECT), reverse
/// (origin-form onto `--reverse`), direct or through `--upstream-proxy` (`--no-upstream-proxy-for` goes
/// direct). Pure: it takes a head (and which parent to use, when there are several: `ParentPool` orders
/// them) and returns values.
struct UpstreamRouter {
    let proxies: [UpstreamProxy]
    let direct: [String]
    let reverse: ReverseBase?

    init(config: ServeConfiguration) {
        proxies = config.upstreamProxies
        direct = config.noUpstreamProxyFor
        reverse = config.reverse
    }

    /// The route of a request to be forwarded through parent `parent` (when it goes through one), or nil
    /// when this head has no destination here.
    func route(_ head: RequestHead, parent: Int = 0) -> UpstreamRoute? {
        switch head.target {
        case .absolute(let scheme, let host, let port, let pathAndQuery):
            return http(scheme: scheme, host: host, port: port, pathAndQuery: pathAndQuery, parent: parent)
        case .origin(let path):
            guard let r = reverse else { return nil }
            return http(scheme: r.scheme, host: r.host, port: r.port, pathAndQuery: r.join(path), parent: parent)
        case .authority, .asterisk:
            return nil
        }
    }

    /// A CONNECT tunnel's (or Upgrade relay's) connection: libcurl's `CONNECT_ONLY` URL and proxy.
    func tunnel(host: String, port: Int, parent: Int = 0) -> UpstreamRoute {
        let p = proxyFor(host, parent: parent)
        return UpstreamRoute(url: "http://\(host):\(port)/", requestTarget: "", proxy: p?.url ?? "",
                             proxyTunnel: p?.kind == .http, proxyDisplay: p?.display, parent: p == nil ? nil : parent)
    }

    /// Where an Upgrade (WebSocket) request goes: host and port to connect to, the origin-form target and
    /// the `Host` to write. nil for https:// destinations (their TLS stays inside libcurl: no raw relay).
    func upgrade(_ head: RequestHead) -> (host: String, port: Int, target: String, authority: String)? {
        switch head.target {
        case .absolute(let scheme, let host, let port, let pathAndQuery) where scheme == "http":
            return (host, port, pathAndQuery, port == 80 ? host : "\(host):\(port)")
        case .origin(let path):
            guard let r = reverse, r.scheme == "http" else { return nil }
            return (r.host, r.port, r.join(path), r.authority)
        default:
            return nil
        }
    }

    private func http(scheme: String, host: String, port: Int, pathAndQuery: String, parent: Int) -> UpstreamRoute {
        let p = proxyFor(host, parent: parent)
        // A plain-HTTP request through an HTTP proxy is sent to it in absolute-form; everything else
        // (https:// through a CONNECT tunnel, SOCKS, direct) in origin-form.
        let absolute = p?.kind == .http && scheme == "http"
        return UpstreamRoute(url: UpstreamRouter.url(scheme, host, port, "/"),
                             requestTarget: absolute ? UpstreamRouter.url(scheme, host, port, pathAndQuery) : pathAndQuery,
                             proxy: p?.url ?? "", proxyTunnel: p?.kind == .http && scheme == "https",
                             proxyDisplay: p?.display, parent: p == nil ? nil : parent)
    }

    /// `scheme://host:port` and `tail`, written once into a string of exactly that size (interpolation and
    /// `+` append piece by piece: five appends a request, 1.5% of its instructions).
    static func url(_ scheme: String, _ host: String, _ port: Int, _ tail: String) -> String {
        let port = max(0, port)
        var digits = 1
        var scale = 1  // 10^(digits - 1)
        while port / scale >= 10 {
            digits += 1
            scale *= 10
        }
        let count = scheme.utf8.count + 3 + host.utf8.count + 1 + digits + tail.utf8.count
        return String(unsafeUninitializedCapacity: count) { b in
            var w = ByteWriter(base: b.baseAddress!, capacity: count)
            w.put(scheme)
            w.put("://")
            w.put(host)
            w.put(58)  // ":"
            while scale > 0 {
                w.put(UInt8(48 + port / scale % 10))
                scale /= 10
            }
            w.put(tail)
            return w.written
        }
    }

    private func proxyFor(_ host: String, parent: Int) -> UpstreamProxy? {
        guard proxies.indices.contains(parent) else { return nil }
        let p = proxies[parent]
        let bare = (host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host).lowercased()
        return direct.contains(where: { HostRules.matches(bare, $0) }) ? nil : p
    }
}

/// `--reverse URL`: the backend origin-form requests go to, with an optional path prefix.
public struct ReverseBase: Sendable, Equatable {
    public let scheme: String
    /// As in a URL: IPv6 in brackets.
    public let host: String
    public let port: Int
    /// "" or a path without a trailing slash (`/api`).
    public let prefix: String

    public init?(_ text: String) {
        guard case .absolute(let scheme, let host, let port, let path)? = try? RequestHeadParser.parseAbsolute(text),
            !path.contains("?")
        else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
        var p = path
        while p.hasSuffix("/") { p.removeLast() }
        prefix = p
    }

    /// The backend's request-target for a client's origin-form target.
    func join(_ path: String) -> String { prefix + path }

    /// The backend's authority, as libcurl writes it in `Host` (the default port left out).
    var authority: String {
        (scheme == "http" && port == 80) || (scheme == "https" && port == 443) ? host : "\(host):\(port)"
    }
}
