/// The example printed by `swproxy serve --print-config`: every option, commented, in the config-file
/// syntax (curl's: `name = value`, `#` comments, quotes for values with spaces).
enum ServeConfigExample {
    static let text = """
        # swproxy serve configuration. Command-line options override these; SIGHUP reloads the file
        # (listeners and thread count stay as started). Lines are 'name = value'; '#' starts a comment.

        # --- Listening
        # listen = 127.0.0.1:8080        # repeatable; IPv6 as [::1]:8080
        # threads = 4                    # default: the number of cores
        # listen-tls = 0.0.0.0:8443      # clients speak TLS to the proxy (curl -x https://...); repeatable
        # tls-cert = /etc/swproxy/cert.pem   # PEM chain; SIGHUP reloads cert and key
        # tls-key = /etc/swproxy/key.pem

        # --- Access control (a non-loopback listener needs allow or auth)
        # allow = 192.168.1.0/24         # repeatable CIDR; deny wins
        # deny = 192.168.1.13/32
        # auth = "alice:change me"       # repeatable USER:PASS
        # auth-file = /etc/swproxy.htpasswd   # bcrypt ($2y$) or sha-crypt ($5$, $6$) hashes
        # allow-host = *.example.com     # destinations: name, *.name, *, IP or CIDR, each with an optional :port
        # deny-host = ads.example.com    # deny rules win
        # allow-host-file = /etc/swproxy/allow.txt   # one rule a line, '#' comments; repeatable; SIGHUP reloads
        # deny-host-file = /etc/swproxy/deny.txt
        # learn = /var/lib/swproxy/learned.txt       # enforce no host rules, write what was reached
        # audit                          # log what host rules would refuse (would-deny), refuse nothing
        # tunnel-check-sni               # on whenever host rules are set: TLS server name = CONNECT host
        # tunnel-require-tls             # tunnels must start with a TLS ClientHello
        # block-private                  # refuse loopback/private/link-local destinations
        # connect-port = 443             # repeatable; CONNECT elsewhere gets 403
        # max-connections = 10000
        # max-body-size = 104857600
        # max-header-size = 65536

        # --- Timeouts (seconds)
        # header-timeout = 10
        # idle-timeout = 60
        # connect-timeout = 10
        # read-timeout = 60
        # drain-timeout = 10

        # --- Logging
        # access-log = /var/log/swproxy/access.log   # default: stderr
        # log-format = combined          # combined, common or json
        # quiet                          # no access log
        # metrics-listen = 127.0.0.1:9090            # /metrics and /healthz

        # --- Upstream
        # upstream-proxy = http://proxy1.corp:3128   # repeatable: the next while one is down
        # upstream-proxy = http://proxy2.corp:3128
        # no-via
        # via-name = proxy1.example.net:8080   # default: HOST:PORT of this machine and listener
        # no-forwarded-for

        # --- Cache (RFC 9111: GET and HEAD to http:// and https:// origins; never CONNECT tunnels)
        # cache-dir = /var/cache/swproxy     # turns the cache on; one store shared by every loop
        # cache-size = 10G                   # K, M, G; least recently used entries go first
        # cache-max-object = 2G              # larger bodies are relayed, not stored

        """
}
