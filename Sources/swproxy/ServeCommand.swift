import ArgumentParser
import Glibc
import SwproxyConfig
import SwproxyLoop
import SwproxyServe

/// `swproxy serve`: declarations only; the proxy is in SwproxyServe.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a forward HTTP proxy (absolute-form requests and CONNECT tunnels).",
        discussion: """
            Listens on 127.0.0.1:8080 by default. SIGINT or SIGTERM stop accepting and let requests in flight \
            finish for up to --drain-timeout; a second SIGINT exits at once. Options on the command line win \
            over --config files; a flag a file sets is switched off with its --no- form (--no-quiet).
            """)

    @OptionGroup(title: "Listening") var listening: ServeListenOptions
    @OptionGroup(title: "Access control") var access: ServeAccessOptions
    @OptionGroup(title: "Timeouts") var timeouts: ServeTimeoutOptions
    @OptionGroup(title: "Logging") var logging: ServeLoggingOptions
    @OptionGroup(title: "Upstream") var upstream: ServeUpstreamOptions
    @OptionGroup(title: "Cache") var cache: ServeCacheOptions
    @OptionGroup(title: "Configuration") var configFile: ServeConfigFileOptions

    /// Valued and flag options, for config files (`name = value` lines) and command-line precedence.
    static let syntax: ArgumentSyntax = {
        var s = ArgumentSyntax(
            shortNames: [:],
            valued: [
                "listen", "port", "threads", "allow", "deny", "auth", "auth-file", "allow-host", "deny-host",
                "connect-port", "max-connections", "max-body-size", "max-header-size", "header-timeout", "idle-timeout",
                "connect-timeout", "read-timeout", "drain-timeout", "access-log", "log-format", "metrics-listen",
                "via-name", "config", "upstream-proxy", "no-upstream-proxy-for", "reverse", "upstream-cacert",
                "allow-host-file", "deny-host-file", "learn", "listen-tls", "tls-cert", "tls-key", "cache-dir", "cache-size",
                "cache-max-object",
            ],
            flags: ["block-private", "quiet", "no-via", "no-forwarded-for", "print-config", "forward", "preserve-host",
                    "no-upgrade", "upstream-http2", "upstream-h2c", "upstream-insecure", "proxy-protocol", "audit",
                    "tunnel-check-sni", "tunnel-require-tls"],
            configOption: "config")
        s.sameSetting = ["port": "listen"]  // --port 3128 on the command line replaces the file's listen lines
        return s
    }()

    /// Config file first, command line over it; each file line is checked alone so errors say FILE:LINE.
    /// Also what SIGHUP runs again.
    static func load(_ cli: [String]) throws -> (ServeConfiguration, printConfig: Bool) {
        let normalizer = ArgumentNormalizer(syntax: syntax) { try readTextFile($0) }
        let tokens = try normalizer.configThenCommandLine(cli) { entry in
            do { _ = try ServeCommand.parse(entry).makeConfiguration() } catch {
                throw ArgumentError(ServeCommand.message(for: error))
            }
        }
        let command = try ServeCommand.parse(tokens)
        return (try command.makeConfiguration(), command.configFile.printConfig)
    }

    func makeConfiguration() throws -> ServeConfiguration {
        var c = ServeConfiguration()
        var listen: [SocketAddress] = []
        for l in listening.listen {
            guard let a = SocketAddress(parsing: l) else {
                throw ValidationError("--listen \(l): expected HOST:PORT with a literal address, like 127.0.0.1:8080 or [::1]:8080")
            }
            listen.append(a)
        }
        if let p = listening.port {
            guard let a = SocketAddress(parsing: "127.0.0.1:\(p)") else { throw ValidationError("--port \(p): not a port") }
            listen.append(a)
        }
        var listenTLS: [SocketAddress] = []
        for l in listening.listenTLS {
            guard let a = SocketAddress(parsing: l) else {
                throw ValidationError("--listen-tls \(l): expected HOST:PORT with a literal address, like 127.0.0.1:8443")
            }
            listenTLS.append(a)
        }
        c.listenTLS = listenTLS
        // Only TLS listeners named: no plain one on the default address.
        if !listen.isEmpty { c.listen = listen } else if !listenTLS.isEmpty { c.listen = [] }
        c.tlsCertFile = listening.tlsCert
        c.tlsKeyFile = listening.tlsKey
        if !listenTLS.isEmpty {
            do { try c.loadTLS() } catch { throw ValidationError("\(error)") }
        }
        c.threads = listening.threads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        if !access.connectPort.isEmpty { c.connectPorts = Set(access.connectPort) }
        for a in access.allow {
            guard let r = CIDR(a) else { throw ValidationError("--allow \(a): expected an address or CIDR (10.0.0.0/8)") }
            c.allow.append(r)
        }
        for d in access.deny {
            guard let r = CIDR(d) else { throw ValidationError("--deny \(d): expected an address or CIDR (10.0.0.0/8)") }
            c.deny.append(r)
        }
        for a in access.auth {
            do { try c.auth.add(userPass: a) } catch { throw ValidationError(error.description) }
        }
        for f in access.authFile {
            let text: String
            do { text = try readTextFile(f) } catch { throw ValidationError("--auth-file \(f): \(error)") }
            do { try c.auth.addHtpasswd(text, file: f) } catch { throw ValidationError(error.description) }
        }
        do {
            try c.addHostRules(access.allowHost, deny: false, option: "--allow-host")
            try c.addHostRules(access.denyHost, deny: true, option: "--deny-host")
            for (files, deny) in [(access.allowHostFile, false), (access.denyHostFile, true)] {
                for f in files {
                    let text: String
                    do { text = try readTextFile(f) } catch {
                        throw ValidationError("--\(deny ? "deny" : "allow")-host-file \(f): \(error)")
                    }
                    try c.addHostRuleFile(text, name: f, deny: deny)
                }
            }
        } catch let e as ServeConfiguration.HostRuleError {
            throw ValidationError(e.description)
        }
        c.audit = access.audit
        c.learnPath = access.learn
        c.tunnelCheckSNI = access.tunnelCheckSNI
        c.tunnelRequireTLS = access.tunnelRequireTLS
        c.blockPrivate = access.blockPrivate
        c.limits.headerBytes = access.maxHeaderSize
        c.maxConnections = access.maxConnections
        if let m = access.maxBodySize {
            guard m >= 0 else { throw ValidationError("--max-body-size must be 0 or more") }
            c.maxBodySize = UInt64(m)
        }
        c.headerTimeout = timeouts.headerTimeout
        c.idleTimeout = timeouts.idleTimeout
        c.connectTimeout = timeouts.connectTimeout
        c.readTimeout = timeouts.readTimeout
        c.drainTimeout = timeouts.drainTimeout
        if let m = logging.metricsListen {
            let text = m.contains(":") ? m : "127.0.0.1:\(m)"
            guard let a = SocketAddress(parsing: text) else {
                throw ValidationError("--metrics-listen \(m): expected HOST:PORT with a literal address (or a port)")
            }
            c.metricsListen = a
        }
        c.accessLogPath = logging.accessLog
        c.quiet = logging.quiet
        c.logFormat = logging.logFormat
        c.via = !upstream.noVia
        c.viaName = upstream.viaName
        c.forwardedFor = !upstream.noForwardedFor
        for u in upstream.upstreamProxy {
            guard let p = UpstreamProxy(u) else {
                throw ValidationError("--upstream-proxy \(u): expected http://, https://, socks5:// or socks5h:// HOST[:PORT]")
            }
            c.upstreamProxies.append(p)
        }
        c.noUpstreamProxyFor = upstream.noUpstreamProxyFor
        if let r = upstream.reverse {
            guard let base = ReverseBase(r) else {
                throw ValidationError("--reverse \(r): expected an http:// or https:// URL without a query (http://127.0.0.1:9000/api)")
            }
            c.reverse = base
        }
        c.forward = upstream.forward
        c.preserveHost = upstream.preserveHost
        c.upgrade = !upstream.noUpgrade
        c.upstreamHTTP2 = upstream.upstreamHTTP2
        c.upstreamH2C = upstream.upstreamH2C
        c.upstreamCACert = upstream.upstreamCACert
        c.upstreamInsecure = upstream.upstreamInsecure
        c.proxyProtocol = listening.proxyProtocol
        c.cacheDir = cache.cacheDir
        for (option, text, into) in [("--cache-size", cache.cacheSize, \ServeConfiguration.cacheSize),
                                     ("--cache-max-object", cache.cacheMaxObject, \ServeConfiguration.cacheMaxObject)] {
            guard let t = text else { continue }
            guard let n = ServeCacheOptions.size(t) else {
                throw ValidationError("\(option) \(t): expected a size in bytes, with K, M or G (10G)")
            }
            c[keyPath: into] = n
        }
        return c
    }
}

extension ServeConfiguration.LogFormat: ExpressibleByArgument {}

struct ServeListenOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Address to listen on, repeatable (IPv6 as [::1]:8080).", valueName: "host:port"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("Same as --listen 127.0.0.1:PORT.", valueName: "port"))
    var port: Int?

    @Option(help: ArgumentHelp("Event loops, one per thread (default: the number of cores).", valueName: "n"))
    var threads: Int?

    @Option(name: .customLong("listen-tls"),
            help: ArgumentHelp("Address for clients that speak TLS to the proxy (an https:// proxy), repeatable; needs --tls-cert and --tls-key.",
                               valueName: "host:port"))
    var listenTLS: [String] = []

    @Option(name: .customLong("tls-cert"),
            help: ArgumentHelp("Certificate chain (PEM) for --listen-tls; SIGHUP reloads it.", valueName: "file"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("Private key (PEM) for --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Flag(name: .customLong("proxy-protocol"),
          help: "Expect a HAProxy PROXY header (v1 or v2) on every connection; its client address is the one used.")
    var proxyProtocol = false
}

struct ServeAccessOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Clients allowed to connect (CIDR, repeatable; default: all, loopback listen only).",
                               valueName: "cidr"))
    var allow: [String] = []

    @Option(help: ArgumentHelp("Clients refused (CIDR, repeatable; wins over --allow).", valueName: "cidr"))
    var deny: [String] = []

    @Option(help: ArgumentHelp("Require proxy credentials USER:PASS (repeatable; answers 407 without them).",
                               valueName: "user:pass"))
    var auth: [String] = []

    @Option(name: .customLong("auth-file"),
            help: ArgumentHelp("htpasswd file with bcrypt ($2y$) or sha-crypt ($5$/$6$) hashes.", valueName: "file"))
    var authFile: [String] = []

    @Option(name: .customLong("allow-host"),
            help: ArgumentHelp("Destinations allowed (example.com, *.example.com, host:port, *:443, an IP or CIDR; repeatable).",
                               valueName: "rule"))
    var allowHost: [String] = []

    @Option(name: .customLong("deny-host"),
            help: ArgumentHelp("Destinations refused (wins over the allow rules; repeatable).", valueName: "rule"))
    var denyHost: [String] = []

    @Option(name: .customLong("allow-host-file"),
            help: ArgumentHelp("Allow rules from a file, one a line, # comments (repeatable; SIGHUP reloads).", valueName: "file"))
    var allowHostFile: [String] = []

    @Option(name: .customLong("deny-host-file"),
            help: ArgumentHelp("Deny rules from a file (repeatable; SIGHUP reloads).", valueName: "file"))
    var denyHostFile: [String] = []

    @Option(help: ArgumentHelp("Enforce no host rules; write every destination forwarded to this file, as an allow-list.",
                               valueName: "file"))
    var learn: String?

    @Flag(help: "Evaluate host rules and log what they would refuse (would-deny), without refusing.")
    var audit = false

    @Flag(name: .customLong("tunnel-check-sni"),
          help: "Check a tunnel's TLS server name against its CONNECT host (on whenever host rules are set).")
    var tunnelCheckSNI = false

    @Flag(name: .customLong("tunnel-require-tls"),
          help: "Close tunnels whose first bytes are not a TLS ClientHello (implies --tunnel-check-sni).")
    var tunnelRequireTLS = false

    @Flag(name: .customLong("block-private"),
          help: "Refuse destinations that resolve to loopback, private, link-local, CGNAT, multicast or unspecified addresses.")
    var blockPrivate = false

    @Option(name: .customLong("connect-port"),
            help: ArgumentHelp("Port CONNECT may reach, repeatable (default: 443).", valueName: "port"))
    var connectPort: [Int] = []

    @Option(name: .customLong("max-connections"),
            help: ArgumentHelp("Client connections open at once; more wait in the backlog.", valueName: "n"))
    var maxConnections = 10_000

    @Option(name: .customLong("max-body-size"), help: ArgumentHelp("Largest request body in bytes (default: no limit).", valueName: "bytes"))
    var maxBodySize: Int?

    @Option(name: .customLong("max-header-size"), help: ArgumentHelp("Largest request header section in bytes.", valueName: "bytes"))
    var maxHeaderSize = 65536
}

struct ServeTimeoutOptions: ParsableArguments {
    @Option(name: .customLong("header-timeout"), help: ArgumentHelp("Time a client has to send a whole request head.", valueName: "seconds"))
    var headerTimeout = 10.0

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Keep-alive and tunnel idle time.", valueName: "seconds"))
    var idleTimeout = 60.0

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Time to connect upstream.", valueName: "seconds"))
    var connectTimeout = 10.0

    @Option(name: .customLong("read-timeout"), help: ArgumentHelp("Upstream inactivity before 504 (or closing).", valueName: "seconds"))
    var readTimeout = 60.0

    @Option(name: .customLong("drain-timeout"), help: ArgumentHelp("Time in-flight requests get on shutdown.", valueName: "seconds"))
    var drainTimeout = 10.0
}

struct ServeLoggingOptions: ParsableArguments {
    @Option(name: .customLong("access-log"), help: ArgumentHelp("Access log file (default: stderr).", valueName: "path"))
    var accessLog: String?

    @Flag(help: "No access log.")
    var quiet = false

    @Option(name: .customLong("log-format"), help: ArgumentHelp("combined, common or json.", valueName: "format"))
    var logFormat = ServeConfiguration.LogFormat.combined

    @Option(name: .customLong("metrics-listen"),
            help: ArgumentHelp("Serve /metrics (Prometheus) and /healthz here (a bare port means 127.0.0.1).",
                               valueName: "host:port"))
    var metricsListen: String?
}

struct ServeConfigFileOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read options from a file (curl's config syntax: 'name = value' per line); the command line wins; SIGHUP reloads it.",
                               valueName: "file"))
    var config: String?

    @Flag(name: .customLong("print-config"), help: "Print a documented example configuration file and exit.")
    var printConfig = false
}

struct ServeUpstreamOptions: ParsableArguments {
    @Flag(name: .customLong("no-via"), help: "Do not add Via.")
    var noVia = false

    @Option(name: .customLong("via-name"),
            help: ArgumentHelp("This proxy's name in Via and for loop detection (default: HOST:PORT, the host name and first listener's port).",
                               valueName: "name"))
    var viaName: String?

    @Flag(name: .customLong("no-forwarded-for"), help: "Do not append the client address to X-Forwarded-For.")
    var noForwardedFor = false

    @Option(name: .customLong("upstream-proxy"),
            help: ArgumentHelp("Chain through this proxy (http://, https://, socks5://, socks5h://; user:pass@ allowed); repeatable: the next is used while one is down.",
                               valueName: "url"))
    var upstreamProxy: [String] = []

    @Option(name: .customLong("no-upstream-proxy-for"),
            help: ArgumentHelp("Hosts that go direct, not through --upstream-proxy (example.com, *.example.com; repeatable).",
                               valueName: "pattern"))
    var noUpstreamProxyFor: [String] = []

    @Option(help: ArgumentHelp("Reverse proxy: forward origin-form requests to this base URL.", valueName: "url"))
    var reverse: String?

    @Flag(help: "With --reverse, also proxy absolute-form and CONNECT requests.")
    var forward = false

    @Flag(name: .customLong("preserve-host"), help: "With --reverse, send the client's Host to the backend.")
    var preserveHost = false

    @Flag(name: .customLong("no-upgrade"), help: "Refuse protocol upgrades (WebSocket): Upgrade is stripped.")
    var noUpgrade = false

    @Flag(name: .customLong("upstream-http2"), help: "Offer HTTP/2 to https:// upstreams (ALPN), multiplexed.")
    var upstreamHTTP2 = false

    @Flag(name: .customLong("upstream-h2c"), help: "HTTP/2 with prior knowledge to upstreams, cleartext too.")
    var upstreamH2C = false

    @Option(name: .customLong("upstream-cacert"), help: ArgumentHelp("CA bundle for upstream TLS.", valueName: "file"))
    var upstreamCACert: String?

    @Flag(name: .customLong("upstream-insecure"), help: "Do not verify upstream TLS certificates.")
    var upstreamInsecure = false
}

struct ServeCacheOptions: ParsableArguments {
    @Option(name: .customLong("cache-dir"),
            help: ArgumentHelp("Cache GET responses here (a shared HTTP cache, RFC 9111); created if missing.", valueName: "dir"))
    var cacheDir: String?

    @Option(name: .customLong("cache-size"), help: ArgumentHelp("Most the cache stores on disk (default 10G).", valueName: "size"))
    var cacheSize: String?

    @Option(name: .customLong("cache-max-object"),
            help: ArgumentHelp("Largest response body the cache stores (default 2G).", valueName: "size"))
    var cacheMaxObject: String?

    /// `10G`, `512M`, `64K` (1024-based) or plain bytes.
    static func size(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var unit: UInt64 = 1
        switch digits.last {
        case "k", "K": unit = 1 << 10
        case "m", "M": unit = 1 << 20
        case "g", "G": unit = 1 << 30
        case "t", "T": unit = 1 << 40
        default: break
        }
        if unit != 1 { digits = digits.dropLast() }
        guard let n = UInt64(digits), n <= UInt64.max / unit else { return nil }
        return n * unit
    }
}
