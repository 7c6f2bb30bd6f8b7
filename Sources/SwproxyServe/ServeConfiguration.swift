import Glibc
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// Everything `swproxy serve` was asked to do: listeners, limits, timeouts and logging, as plain values.
/// Every limit and timeout lives here, never as a literal in the logic.
public struct ServeConfiguration: Sendable {
    public enum LogFormat: String, Sendable, CaseIterable {
        case combined, common, json
    }

    public var listen: [SocketAddress] = [SocketAddress(parsing: "127.0.0.1:8080")!]
    /// `--listen-tls`: listeners whose clients speak TLS to the proxy (`https://` proxies), with the
    /// certificate and key of `--tls-cert`/`--tls-key`, loaded into `tls` (`loadTLS`).
    public var listenTLS: [SocketAddress] = []
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
    var tls: TLSServerContext?
    public var threads = 1
    public var connectPorts: Set<Int> = [443]
    /// Seconds.
    public var headerTimeout = 10.0
    public var idleTimeout = 60.0
    public var connectTimeout = 10.0
    public var readTimeout = 60.0
    public var drainTimeout = 10.0
    /// How long a closing connection keeps reading (and discarding) so its last response is not reset.
    public var lingerTimeout = 2.0
    /// After EMFILE, when to look at the listeners again if no connection of ours closed meanwhile.
    public var acceptRetryDelay = 0.1
    /// Client connections open at once, across all loops; more wait in the listen backlog.
    public var maxConnections = 10_000
    public var limits = HeadLimits()
    /// Per-connection buffer watermarks: above `highWatermark` the producer pauses, below `lowWatermark` it
    /// resumes.
    public var highWatermark = 256 << 10
    public var lowWatermark = 64 << 10
    public var via = true
    /// This proxy's received-by name in `Via` and for loop detection; nil until the listeners are bound, then
    /// by default `HOST:PORT` (the host name and the first listener's port: unique per instance, so two
    /// chained swproxy instances never take each other for a loop).
    public var viaName: String?
    public var forwardedFor = true
    public var accessLogPath: String?  // nil = stderr
    public var quiet = false
    public var logFormat = LogFormat.combined
    /// Largest request body accepted, in bytes; nil = no limit.
    public var maxBodySize: UInt64?
    public var allow: [CIDR] = []
    public var deny: [CIDR] = []
    public var auth = ProxyAuth()
    /// Destination rules (`--allow-host`, `--deny-host` and their files).
    var allowHosts: [HostRule] = []
    var denyHosts: [HostRule] = []
    /// `--audit`: host rules are evaluated and logged (`would-deny`), not enforced.
    public var audit = false
    /// `--learn FILE`: host rules are not enforced, and every destination forwarded is written to FILE.
    public var learnPath: String?
    /// The `--learn` writer, shared by every loop (made once at start, kept across reloads).
    var learner: DestinationLearner?
    /// `--tunnel-check-sni` (also on whenever host rules are set) and `--tunnel-require-tls`.
    public var tunnelCheckSNI = false
    public var tunnelRequireTLS = false
    public var blockPrivate = false
    /// Where `/metrics` and `/healthz` are served; nil = nowhere.
    public var metricsListen: SocketAddress?
    /// `--upstream-proxy`: every upstream connection goes through it, but for `noUpstreamProxyFor` hosts.
    public var upstreamProxies: [UpstreamProxy] = []
    /// The parents' shared health (failover), made once at start and kept across reloads that keep the list.
    var parentPool: ParentPool?
    public var noUpstreamProxyFor: [String] = []
    /// `--reverse`: origin-form requests go to this backend.
    public var reverse: ReverseBase?
    /// `--forward` with `--reverse`: absolute-form and CONNECT requests are still proxied.
    public var forward = false
    /// `--preserve-host`: the backend sees the client's Host, not its own.
    public var preserveHost = false
    /// Upgrade requests (WebSocket) become byte relays after a 101; `--no-upgrade` strips `Upgrade`.
    public var upgrade = true
    /// `--upstream-http2`: offer HTTP/2 to https:// upstreams (ALPN); `--upstream-h2c`: HTTP/2 with prior
    /// knowledge, cleartext included.
    public var upstreamHTTP2 = false
    public var upstreamH2C = false
    /// Upstream TLS: a CA bundle to verify with, or no verification at all.
    public var upstreamCACert: String?
    public var upstreamInsecure = false
    /// `--cache-dir`: the shared HTTP cache's directory (nil: no cache), its size and largest object, in bytes.
    public var cacheDir: String?
    public var cacheSize: UInt64 = 10 << 30
    public var cacheMaxObject: UInt64 = 2 << 30
    /// The store, opened once at start and kept across reloads.
    var cache: CacheStore?
    /// `--proxy-protocol`: every connection starts with a HAProxy PROXY header (v1 or v2) naming the client.
    public var proxyProtocol = false

    /// Whether absolute-form and CONNECT requests are proxied (forward mode).
    public var forwards: Bool { reverse == nil || forward }

    /// This proxy's `Via` entry (`1.1 NAME (swproxy/VERSION)`), or nil with --no-via.
    var viaEntry: String? {
        guard via else { return nil }
        return settledViaEntry ?? ServeConfiguration.viaEntry(receivedBy)
    }

    private var settledViaEntry: String?

    static func viaEntry(_ name: String) -> String { "1.1 \(name) (swproxy/\(ProductVersion.string))" }

    /// The received-by name in force.
    var receivedBy: String { viaName ?? ServeConfiguration.defaultViaName(listen: listen) }

    /// `HOST:PORT`: this machine's host name and the first listener's port.
    static func defaultViaName(listen: [SocketAddress]) -> String {
        var buf = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buf, buf.count - 1) == 0 ? String(cString: buf) : "localhost"
        let sane = host.isEmpty || host.contains(where: { $0 == " " || $0 == "," || $0 == "(" }) ? "localhost" : host
        return "\(sane.lowercased()):\(listen.first.map { Int($0.port) } ?? 0)"
    }

    /// Every listener, plain and TLS (loop detection: a request to any of them is one to the proxy itself).
    var allListeners: [SocketAddress] { listen + listenTLS }

    /// Loads `--tls-cert`/`--tls-key` (again on SIGHUP): a bad file is an error naming it.
    public mutating func loadTLS() throws {
        guard let cert = tlsCertFile, let key = tlsKeyFile else {
            tls = nil
            return
        }
        tls = try TLSServerContext(certificateFile: cert, keyFile: key)
    }

    /// Sets the listeners actually bound, and the names that depend on them.
    public mutating func settle(listen bound: [SocketAddress], tls boundTLS: [SocketAddress]? = nil) {
        listen = bound
        if let t = boundTLS { listenTLS = t }
        let name = viaName ?? ServeConfiguration.defaultViaName(listen: allListeners)
        viaName = name
        settledViaEntry = ServeConfiguration.viaEntry(name)
    }

    /// Parses and adds `--allow-host`/`--deny-host` rules (`deny`: to the deny list).
    public mutating func addHostRules(_ texts: [String], deny: Bool, option: String) throws(HostRuleError) {
        for t in texts {
            switch HostRule.parse(t) {
            case .success(let r): if deny { denyHosts.append(r) } else { allowHosts.append(r) }
            case .failure(let e): throw HostRuleError(description: "\(option) \(e.description)")
            }
        }
    }

    /// Adds the rules of an `--allow-host-file`/`--deny-host-file` (`text`, read from `name`).
    public mutating func addHostRuleFile(_ text: String, name: String, deny: Bool) throws(HostRuleError) {
        do {
            let rules = try HostRule.parseFile(text, name: name)
            if deny { denyHosts += rules } else { allowHosts += rules }
        } catch {
            throw HostRuleError(description: error.description)
        }
    }

    public struct HostRuleError: Error, CustomStringConvertible {
        public let description: String
    }

    public init() {}

    /// Problems that keep the proxy from starting, in words for the user.
    public func validate() -> [String] {
        var problems: [String] = []
        if listen.isEmpty && listenTLS.isEmpty { problems.append("nothing to listen on") }
        if !listenTLS.isEmpty && (tlsCertFile == nil || tlsKeyFile == nil) {
            problems.append("--listen-tls needs --tls-cert FILE and --tls-key FILE")
        }
        if !listenTLS.isEmpty && proxyProtocol {
            problems.append("--proxy-protocol with --listen-tls is not supported: the PROXY header would have to come "
                                + "before the TLS handshake; terminate TLS at the balancer or use a plain --listen")
        }
        if listenTLS.isEmpty && (tlsCertFile != nil || tlsKeyFile != nil) {
            problems.append("--tls-cert and --tls-key are for --listen-tls")
        }
        if threads < 1 { problems.append("--threads must be at least 1") }
        if maxConnections < 1 { problems.append("--max-connections must be at least 1") }
        for (name, v) in [("--header-timeout", headerTimeout), ("--idle-timeout", idleTimeout),
                          ("--connect-timeout", connectTimeout), ("--read-timeout", readTimeout),
                          ("--drain-timeout", drainTimeout)] where !(v > 0) {
            problems.append("\(name) must be more than 0 seconds")
        }
        for p in connectPorts where p < 1 || p > 65535 { problems.append("--connect-port \(p) is not a port") }
        if lowWatermark > highWatermark { problems.append("the low watermark is above the high one") }
        if blockPrivate && !upstreamProxies.isEmpty {
            problems.append(
                "--block-private checks the address swproxy connects to, which with --upstream-proxy is the upstream "
                    + "proxy's: enforce it on that proxy instead")
        }
        if cacheDir == nil && (cacheSize != 10 << 30 || cacheMaxObject != 2 << 30) {
            problems.append("--cache-size and --cache-max-object are for --cache-dir")
        }
        if forward && reverse == nil { problems.append("--forward only means something with --reverse") }
        if audit && learnPath != nil { problems.append("--audit and --learn: pick one (--learn enforces nothing either)") }
        // An open proxy is found and abused within hours: a non-loopback listener needs a decision.
        // A reverse proxy without --forward reaches only its backend: listening openly is its job.
        if forwards && allow.isEmpty && !auth.isEnabled, let open = allListeners.first(where: { !$0.isLoopback }) {
            problems.append(
                "refusing to listen on \(open) without --allow or --auth: that would be an open proxy. "
                    + "Name the clients that may use it (--allow 192.168.1.0/24), require credentials (--auth USER:PASS), "
                    + "or open it to everyone on purpose with --allow 0.0.0.0/0 --allow ::/0")
        }
        return problems
    }
}
