import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop
import XCTest

@testable import SwproxyServe

func head(_ text: String) -> RequestHead {
    var p = RequestHeadParser()
    let bytes = Array(text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n").utf8)
    guard case .head(let h, _) = bytes.withUnsafeBytes({ p.parse($0) }) else {
        fatalError("test head does not parse: \(text)")
    }
    return h
}

/// The pure policy predicates, as tables: each row a case a user would write.
final class PolicyTests: XCTestCase {
    func rules(_ allow: [String], _ deny: [String] = []) -> HostRules {
        func parse(_ t: String) -> HostRule { try! HostRule.parse(t).get() }
        return HostRules(allow: allow.map(parse), deny: deny.map(parse))
    }

    func testHostRules() {
        let r = rules(["example.com", "*.example.org", "api.test:8443", "*.cdn.test:443", "10.0.0.0/8", "192.0.2.7:22",
                       "[2001:db8::1]:443", "*:9999"], ["bad.example.org", "10.9.0.0/16"])
        for (host, port, ok) in [("example.com", 80, true), ("EXAMPLE.com.", 443, true), ("www.example.com", 80, false),
                                 ("a.example.org", 80, true), ("example.org", 80, false), ("bad.example.org", 80, false),
                                 ("x.bad.example.org", 80, true), ("other.net", 80, false),
                                 ("api.test", 8443, true), ("api.test", 443, false),
                                 ("a.cdn.test", 443, true), ("a.cdn.test", 80, false), ("cdn.test", 443, false),
                                 ("10.1.2.3", 443, true), ("10.9.1.1", 443, false), ("11.0.0.1", 443, false),
                                 ("192.0.2.7", 22, true), ("192.0.2.7", 443, false),
                                 ("[2001:db8::1]", 443, true), ("2001:db8::1", 443, true), ("2001:db8::2", 443, false),
                                 ("::ffff:10.1.2.3", 443, true), ("::ffff:10.9.1.1", 443, false),
                                 ("anything.test", 9999, true), ("10.9.1.1", 9999, false), ("1.2.3.4", 9999, true)] {
            XCTAssertEqual(r.permits(Destination(host: host, port: port)), ok, "\(host):\(port)")
        }
        XCTAssertTrue(rules([], ["x.com"]).permits(Destination(host: "y.com", port: 80)))
        // A name rule never matches an IP literal, so an allow-list of names refuses every address.
        XCTAssertFalse(rules(["*.example.com", "example.com"]).permits(Destination(host: "93.184.216.34", port: 443)))
    }

    func testHostRuleSyntax() {
        for (text, back) in [("Example.COM", "example.com"), ("*.example.com:443", "*.example.com:443"), ("*", "*"),
                             ("*:443", "*:443"), ("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3", "10.1.2.3"),
                             ("10.1.2.3:22", "10.1.2.3:22"), ("::1", "::1"), ("[::1]:8080", "[::1]:8080"),
                             ("2001:db8::/32", "2001:db8::/32"), ("[2001:db8::/32]:443", "[2001:db8::/32]:443"),
                             ("host.test.", "host.test"), ("under_score.test", "under_score.test")] {
            guard case .success(let r) = HostRule.parse(text) else { XCTFail(text); continue }
            XCTAssertEqual(r.description, back, text)
        }
        for bad in ["", "exa mple.com", "a..b", "host:0", "host:70000", "host:x", "[::1", "[::1]x", "10.0.0.0/33",
                    "*.", "a*.test", "http://x.test", "x.test/path"] {
            if case .success(let r) = HostRule.parse(bad) { XCTFail("\(bad) parsed as \(r)") }
        }
    }

    func testHostRuleFile() throws {
        let text = "# allowed\nexample.com\n\n  *.example.org:443   # trailing comment\r\n10.0.0.0/8\n"
        XCTAssertEqual(try HostRule.parseFile(text, name: "f").map(\.description), ["example.com", "*.example.org:443", "10.0.0.0/8"])
        XCTAssertThrowsError(try HostRule.parseFile("ok.test\n# x\nbad host\n", name: "/etc/allow.txt")) { e in
            XCTAssertTrue("\(e)".hasPrefix("/etc/allow.txt:3: "), "\(e)")
        }
        var c = ServeConfiguration()
        XCTAssertThrowsError(try c.addHostRules(["ok.test", "no good"], deny: false, option: "--allow-host")) { e in
            XCTAssertTrue("\(e)".hasPrefix("--allow-host 'no good'"), "\(e)")
        }
    }

    /// --audit: a host refusal is only noted; --learn: nothing is refused by host rules, and what was
    /// forwarded is collected as `host:port` lines.
    func testAuditAndLearn() throws {
        var c = ServeConfiguration()
        try c.addHostRules(["ok.test"], deny: false, option: "--allow-host")
        let get = head("GET http://no.test/ HTTP/1.1\nHost: no.test\n\n")
        XCTAssertEqual(Policy(config: c).verdict(for: get, client: nil), .refuse(.hostDenied))
        c.audit = true
        XCTAssertEqual(Policy(config: c).verdict(for: get, client: nil), .forward(wouldDeny: "host-denied"))
        XCTAssertEqual(Policy(config: c).verdict(for: head("GET http://ok.test/ HTTP/1.1\nHost: ok.test\n\n"), client: nil),
                       .forward(wouldDeny: nil))
        c.audit = false
        let learner = try DestinationLearner(path: "/nonexistent/learned", existing: "# old\nold.test:80\n")
        c.learner = learner
        let p = Policy(config: c)
        XCTAssertEqual(p.verdict(for: get, client: nil), .forward(wouldDeny: "host-denied"))
        _ = p.verdict(for: head("CONNECT [2001:db8::1]:443 HTTP/1.1\nHost: x\n\n"), client: nil)
        _ = p.verdict(for: head("GET http://NO.test/again HTTP/1.1\nHost: no.test\n\n"), client: nil)
        _ = p.verdict(for: head("CONNECT a.test:22 HTTP/1.1\nHost: x\n\n"), client: nil)  // refused: port
        XCTAssertEqual(learner.lines, ["[2001:db8::1]:443", "no.test:80", "old.test:80"])
        XCTAssertThrowsError(try DestinationLearner(path: "x", existing: "not a rule list\n"))
    }

    /// A tunnel's ClientHello against its CONNECT host and the rules.
    func testHelloVerdicts() throws {
        var c = ServeConfiguration()
        try c.addHostRules(["*.ok.test", "192.0.2.1"], deny: false, option: "--allow-host")
        let p = Policy(config: c)
        XCTAssertTrue(p.checksTunnelHello)
        XCTAssertFalse(Policy(config: ServeConfiguration()).checksTunnelHello)
        let rows: [(TLSClientHello.Inspection, String, String?)] = [
            (.hello(serverName: "a.ok.test", ech: false), "a.ok.test", nil),
            (.hello(serverName: "A.OK.test.", ech: false), "a.ok.test", nil),
            (.hello(serverName: "b.ok.test", ech: false), "a.ok.test", "sni-mismatch"),
            (.hello(serverName: "evil.test", ech: false), "a.ok.test", "sni-mismatch"),
            (.hello(serverName: "evil.test", ech: true), "a.ok.test", "sni-mismatch"),
            (.hello(serverName: nil, ech: false), "a.ok.test", "sni-missing"),
            (.hello(serverName: nil, ech: false), "192.0.2.1", nil),
            (.hello(serverName: "a.ok.test", ech: false), "192.0.2.1", "sni-mismatch"),
            (.notTLS, "a.ok.test", nil),
            (.malformed, "a.ok.test", "sni-unreadable"),
            (.needMore, "a.ok.test", nil),
        ]
        for (inspection, host, reason) in rows {
            let v = p.checkHello(inspection, connectHost: host, port: 443)
            XCTAssertEqual(v?.error.logReason, reason, "\(inspection) for \(host)")
            if v != nil { XCTAssertTrue(v!.enforced) }
        }
        c.tunnelRequireTLS = true
        XCTAssertEqual(Policy(config: c).checkHello(.notTLS, connectHost: "a.ok.test", port: 443)?.error, .notTLS)
        c.audit = true
        XCTAssertEqual(Policy(config: c).checkHello(.notTLS, connectHost: "a.ok.test", port: 443)?.enforced, false)
    }

    func testPrivateAddresses() {
        let blocked: [[UInt8]] = [[127, 0, 0, 1], [10, 1, 2, 3], [172, 16, 0, 1], [192, 168, 1, 1], [169, 254, 1, 1],
                                  [100, 64, 0, 1], [0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255],
                                  Array(repeating: 0, count: 15) + [1], [0xfe, 0x80] + Array(repeating: 0, count: 14),
                                  [0xfd] + Array(repeating: 0, count: 15),
                                  Array(repeating: 0, count: 10) + [0xff, 0xff, 10, 0, 0, 1]]
        for b in blocked { XCTAssertTrue(PrivateAddress.isBlocked(b), "\(b)") }
        let open: [[UInt8]] = [[93, 184, 216, 34], [8, 8, 8, 8], [172, 32, 0, 1], [100, 128, 0, 1],
                               [0x26, 0x06, 0x28, 0x00] + Array(repeating: 0, count: 12),
                               Array(repeating: 0, count: 10) + [0xff, 0xff, 8, 8, 8, 8]]
        for b in open { XCTAssertFalse(PrivateAddress.isBlocked(b), "\(b)") }
    }

    func testClientAccess() {
        let access = ClientAccess(allow: [CIDR("10.0.0.0/8")!, CIDR("::1")!], deny: [CIDR("10.9.0.0/16")!])
        for (addr, ok) in [("10.1.2.3", true), ("10.9.1.1", false), ("11.0.0.1", false), ("::1", true),
                           ("::ffff:10.1.2.3", true)] {
            XCTAssertEqual(access.permits(SocketAddress(host: addr, port: 1)), ok, addr)
        }
        XCTAssertFalse(access.permits(nil))
        XCTAssertTrue(ClientAccess(allow: [], deny: []).permits(nil))
    }

    func testLoopDetection() {
        XCTAssertTrue(LoopDetection.viaHasOwnToken(["1.0 fred, 1.1 swproxy"], name: "swproxy"))
        XCTAssertTrue(LoopDetection.viaHasOwnToken(["1.1 SWPROXY (swproxy/0.1)"], name: "swproxy"))
        XCTAssertFalse(LoopDetection.viaHasOwnToken(["1.1 swproxy-2"], name: "swproxy"))
        let listen = [SocketAddress(parsing: "127.0.0.1:8080")!, SocketAddress(parsing: "0.0.0.0:3128")!]
        for (target, loop) in [("http://127.0.0.1:8080/", true), ("http://localhost:8080/x", true),
                               ("http://127.0.0.1:8081/", false), ("http://10.0.0.1:8080/", false),
                               ("http://127.0.0.2:3128/", true), ("http://example.com:8080/", false)] {
            let t = try! RequestHeadParser.parseAbsolute(target)
            XCTAssertEqual(LoopDetection.targetsOwnListener(t, listen: listen), loop, target)
        }
    }

    func testPolicyOrderAndVerdicts() {
        var c = ServeConfiguration()
        c.connectPorts = [443]
        try! c.addHostRules(["blocked.test"], deny: true, option: "--deny-host")
        c.maxBodySize = 10
        c.viaName = "swproxy"
        let policy = Policy(config: c)
        let p = Checker(policy: policy)
        XCTAssertNil(p.check(head("GET http://ok.test/ HTTP/1.1\nHost: ok.test\n\n"), client: nil))
        XCTAssertEqual(p.check(head("GET http://blocked.test/ HTTP/1.1\nHost: blocked.test\n\n"), client: nil), .hostDenied)
        XCTAssertEqual(p.check(head("CONNECT ok.test:22 HTTP/1.1\nHost: ok.test:22\n\n"), client: nil), .forbiddenPort)
        XCTAssertNil(p.check(head("CONNECT ok.test:443 HTTP/1.1\nHost: ok.test:443\n\n"), client: nil))
        XCTAssertEqual(p.check(head("POST http://ok.test/ HTTP/1.1\nHost: ok.test\nContent-Length: 11\n\n"), client: nil),
                       .bodyTooLarge)
        XCTAssertEqual(p.check(head("GET http://ok.test/ HTTP/1.1\nHost: ok.test\nVia: 1.1 swproxy\n\n"), client: nil), .loop)
        // Loop before host rules: a looping request to a denied host is a loop.
        XCTAssertEqual(p.check(head("GET http://blocked.test/ HTTP/1.1\nHost: x\nVia: 1.1 swproxy\n\n"), client: nil), .loop)
    }

    /// `Policy.check` without the audit note.
    struct Checker {
        let policy: Policy
        func check(_ h: RequestHead, client: SocketAddress?) -> ProxyError? {
            var note: String?
            return policy.check(h, client: client, wouldDeny: &note)
        }
    }

    func testMaxForwards() {
        XCTAssertEqual(Policy.decrementedMaxForwards(head("OPTIONS http://a/ HTTP/1.1\nHost: a\nMax-Forwards: 3\n\n")), "2")
        XCTAssertNil(Policy.decrementedMaxForwards(head("GET http://a/ HTTP/1.1\nHost: a\nMax-Forwards: 3\n\n")))
        let p = Policy(config: ServeConfiguration())
        let answer = p.answerLocally(head("TRACE http://a/ HTTP/1.1\nHost: a\nMax-Forwards: 0\nCookie: s=1\n\n"))
        XCTAssertEqual(answer?.status, 200)
        let text = String(decoding: answer!.bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("Content-Type: message/http") && !text.contains("s=1"), text)
    }
}

/// libcurl's result codes → the status and log reason the client and the access log get.
final class ProxyErrorTests: XCTestCase {
    func testUpstreamCodes() {
        let rows: [(CurlCode, Int, String)] = [
            (.operationTimedOut, 504, "upstream-timeout"), (.couldntResolveHost, 502, "upstream-resolve"),
            (.couldntConnect, 502, "upstream-connect"), (.peerFailedVerification, 502, "upstream-tls"),
            (.sslConnectError, 502, "upstream-tls"), (.sslCertProblem, 502, "upstream-tls"),
            (.sslCACertBadFile, 502, "upstream-tls"), (.sslIssuerError, 502, "upstream-tls"),
            (.sslPinnedPublicKeyMismatch, 502, "upstream-tls"), (.sslInvalidCertStatus, 502, "upstream-tls"),
            (.gotNothing, 502, "upstream-error"), (.recvError, 502, "upstream-error"),
        ]
        for (code, status, reason) in rows {
            let e = ProxyError.upstream(code, "detail")
            XCTAssertEqual(e.status, status, "\(code)")
            XCTAssertEqual(e.logReason, reason, "\(code)")
        }
    }

    func testUpstreamProxyCodesNameTheProxy() {
        for (code, reason) in [(CurlCode.couldntResolveProxy, "upstream-resolve"), (.couldntConnect, "upstream-connect"),
                               (.proxy, "upstream-error")] {
            let e = ProxyError.upstream(code, "d", proxy: "http://parent:3128")
            XCTAssertEqual(e.status, 502)
            XCTAssertEqual(e.logReason, reason)
            XCTAssertTrue(e.message.contains("http://parent:3128"), e.message)
        }
        // A timeout through a proxy is still a timeout.
        XCTAssertEqual(ProxyError.upstream(.operationTimedOut, "d", proxy: "p").status, 504)
    }

    func testResponseIsCompleteAndCloses() {
        let text = String(decoding: ProxyError.hostDenied.response(via: "1.1 swproxy"), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 403 "), text)
        XCTAssertTrue(text.contains("\r\nConnection: close\r\n") && text.contains("\r\nVia: 1.1 swproxy\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\ndestination host not allowed\nreason: host-denied\n"), text)
        // The proxy is the origin of its own answers (RFC 9110 §6.6.1): one Date, now.
        let dates = text.components(separatedBy: "\r\n").filter { $0.hasPrefix("Date: ") }
        XCTAssertEqual(dates.count, 1, text)
        let stamp = HTTPDate.parse(String(dates.first?.dropFirst(6) ?? ""))
        XCTAssertLessThanOrEqual(abs((stamp ?? 0) - time(nil)), 2, text)
    }
}

/// The forwarded fields, hop by hop (RFC 9110 §7.6, RFC 7239).
final class UpstreamHeadTests: XCTestCase {
    func testForwardProxyFields() {
        let h = head("GET http://a.test/ HTTP/1.1\nHost: a.test\nConnection: keep-alive, X-Drop\nX-Drop: 1\n"
            + "Keep-Alive: 5\nVia: 1.0 first\nX-Forwarded-For: 1.2.3.4\nX-Keep: yes\n\n")
        let client = SocketAddress(host: "10.0.0.7", port: 5)
        let fields = UpstreamHead(settings: ConfigSnapshot(ServeConfiguration()), head: h, client: client, clientHost: "10.0.0.7").fields()
        // The default received-by name is this host's name and the first listener's port.
        let name = ServeConfiguration.defaultViaName(listen: ServeConfiguration().listen)
        XCTAssertTrue(name.hasSuffix(":8080") && name.count > 5, name)
        XCTAssertEqual(fields.map { "\($0.name): \($0.value)" },
                       ["X-Keep: yes", "Via: 1.0 first, 1.1 \(name) (swproxy/\(ProductVersion.string))",
                        "X-Forwarded-For: 1.2.3.4, 10.0.0.7"])
        var named = ServeConfiguration()
        named.viaName = "edge-1"
        named.settle(listen: [SocketAddress(parsing: "127.0.0.1:3128")!])
        XCTAssertEqual(named.viaEntry, "1.1 edge-1 (swproxy/\(ProductVersion.string))")
        var unnamed = ServeConfiguration()
        unnamed.settle(listen: [SocketAddress(parsing: "127.0.0.1:3128")!])
        XCTAssertTrue(unnamed.receivedBy.hasSuffix(":3128"), unnamed.receivedBy)
    }

    func testQuoting() {
        XCTAssertEqual(UpstreamHead.quoted("token"), "token")
        XCTAssertEqual(UpstreamHead.quoted("[::1]"), "\"[::1]\"")
        XCTAssertEqual(UpstreamHead.quoted("a\"b\\c"), "\"a\\\"b\\\\c\"")
        XCTAssertEqual(UpstreamHead.curlLines([HeaderField("X-Empty", "")]), ["X-Empty;"])
        XCTAssertEqual(UpstreamHead.curlLines([HeaderField("X-A", "1")]), ["X-A: 1"])
        XCTAssertEqual(UpstreamHead.curlLines([]), [])
        XCTAssertEqual(UpstreamHead.curlLines([HeaderField("X-Ü", "é"), HeaderField("X-B", "")]), ["X-Ü: é\r\nX-B:"])
    }

    /// Runs of fields libcurl never looks at share one CURLOPT_HTTPHEADER entry (one printf pass in
    /// libcurl); a field libcurl inspects keeps an entry of its own, and the order stays the client's.
    func testCurlLinesJoinUninspectedRuns() {
        let fields = [
            HeaderField("X-Empty", ""), HeaderField("X-A", "1"), HeaderField("user-AGENT", "ua"),
            HeaderField("Accept-Language", "en"), HeaderField("X-A", "2"), HeaderField("Cookie", "c=1"),
            HeaderField("Cookie", "d=2"), HeaderField("Via", "1.1 p"), HeaderField("X-Forwarded-For", "10.0.0.1"),
            HeaderField("X-Last", ""),
        ]
        XCTAssertEqual(UpstreamHead.curlLines(fields), [
            "X-Empty:\r\nX-A: 1", "user-AGENT: ua", "Accept-Language: en\r\nX-A: 2", "Cookie: c=1", "Cookie: d=2",
            "Via: 1.1 p\r\nX-Forwarded-For: 10.0.0.1\r\nX-Last:",
        ])
        for name in ["Host", "te", "Accept", "Expect", "Referer", "Range", "Authorization", "Content-Type",
                     "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Connection", "Accept-Encoding",
                     "If-Modified-Since", "If-Unmodified-Since", "Date"]
        {
            XCTAssertTrue(UpstreamHead.libcurlInspects(name), name)
        }
        for name in ["X-A", "Via", "Accept-Language", "Cache-Control", "Origin", "Hosts", "Dated"] {
            XCTAssertFalse(UpstreamHead.libcurlInspects(name), name)
        }
    }
}

/// The whole verdict on a head, and on a client address, as tables.
final class PolicyVerdictTests: XCTestCase {
    func testModeChecks() {
        let absolute = try! RequestHeadParser.parseAbsolute("http://a/")
        let table: [(RequestTarget, Bool, Bool, ProxyError?)] = [
            (absolute, true, false, nil), (absolute, false, true, .reverseOnly),
            (.authority(host: "a", port: 443), true, false, nil), (.authority(host: "a", port: 443), false, true, .reverseOnly),
            (.origin("/x"), true, false, .originForm), (.origin("/x"), false, true, nil),
            (.origin("/x"), true, true, nil), (.asterisk, true, false, .originForm), (.asterisk, true, true, .reverseOnly),
        ]
        for (target, forwards, reverse, verdict) in table {
            XCTAssertEqual(Policy.modeRefusal(target, forwards: forwards, reverse: reverse), verdict,
                           "\(target) forwards=\(forwards) reverse=\(reverse)")
        }
    }

    func testVerdictOrder() {
        var c = ServeConfiguration()
        c.auth = ProxyAuth()
        c.viaName = "swproxy"
        let p = Policy(config: c)
        XCTAssertEqual(p.verdict(for: head("GET http://a/ HTTP/1.1\nHost: a\n\n"), client: nil), .forward(wouldDeny: nil))
        XCTAssertEqual(p.verdict(for: head("GET /x HTTP/1.1\nHost: a\n\n"), client: nil), .refuse(.originForm))
        // The proxy's own answer comes before the mode check: OPTIONS * with Max-Forwards: 0.
        guard case .answer(200, _) = p.verdict(for: head("OPTIONS * HTTP/1.1\nHost: a\nMax-Forwards: 0\n\n"), client: nil)
        else { return XCTFail("OPTIONS * answered") }
        // Refusals before the proxy's own answer.
        XCTAssertEqual(p.verdict(for: head("OPTIONS http://a/ HTTP/1.1\nHost: a\nMax-Forwards: 0\nVia: 1.1 swproxy\n\n"),
                                 client: nil), .refuse(.loop))
    }

    func testAdmission() {
        var c = ServeConfiguration()
        c.allow = [CIDR("10.0.0.0/8")!]
        let p = Policy(config: c)
        XCTAssertEqual(p.admit(SocketAddress(host: "10.1.1.1", port: 1)), .admit)
        XCTAssertEqual(p.admit(SocketAddress(host: "192.0.2.1", port: 1)), .refuse(.clientDenied))
        XCTAssertEqual(p.admit(nil), .refuse(.clientDenied))
    }

    func testTLSListenerConfiguration() {
        var c = ServeConfiguration()
        c.listenTLS = [SocketAddress(parsing: "127.0.0.1:8443")!]
        XCTAssertTrue(c.validate().contains("--listen-tls needs --tls-cert FILE and --tls-key FILE"), "\(c.validate())")
        c.listenTLS = [SocketAddress(parsing: "0.0.0.0:8443")!]
        c.tlsCertFile = "c.pem"
        c.tlsKeyFile = "k.pem"
        XCTAssertTrue(c.validate().contains { $0.hasPrefix("refusing to listen on 0.0.0.0:8443") }, "an open TLS proxy too")
        c.proxyProtocol = true
        XCTAssertTrue(c.validate().contains { $0.hasPrefix("--proxy-protocol with --listen-tls is not supported") })
        c.proxyProtocol = false
        c.listenTLS = []
        XCTAssertTrue(c.validate().contains("--tls-cert and --tls-key are for --listen-tls"))
        XCTAssertThrowsError(try TLSServerContext(certificateFile: "/nonexistent.pem", keyFile: "/nonexistent.key")) { e in
            XCTAssertTrue("\(e)".hasPrefix("--tls-cert /nonexistent.pem: "), "\(e)")
        }
    }

    func testBodyLimit() {
        XCTAssertTrue(Policy(config: ServeConfiguration()).admitsBody(of: .max))
        var c = ServeConfiguration()
        c.maxBodySize = 100
        let p = Policy(config: c)
        XCTAssertTrue(p.admitsBody(of: 100))
        XCTAssertFalse(p.admitsBody(of: 101))
    }
}

/// Where a request goes: origin, upstream proxy, request target, tunnel flag.
final class UpstreamRouterTests: XCTestCase {
    func testURL() {
        for (scheme, host, port, tail) in [("http", "a.test", 80, "/"), ("https", "[::1]", 8443, "/x?y=1"),
                                           ("http", "h", 0, ""), ("http", "h", 7, "/"), ("http", "h", 10, "/"),
                                           ("http", "h", 65535, "/é"), ("http", "h", 99999, "/")] {
            XCTAssertEqual(UpstreamRouter.url(scheme, host, port, tail), "\(scheme)://\(host):\(port)\(tail)")
        }
    }

    func testRoutes() {
        var c = ServeConfiguration()
        c.upstreamProxies = [UpstreamProxy("http://user:pw@parent:3128")!, UpstreamProxy("socks5h://backup:1080")!]
        c.noUpstreamProxyFor = ["*.internal"]
        let r = UpstreamRouter(config: c)
        XCTAssertEqual(r.route(head("GET http://a.test/p?q HTTP/1.1\nHost: a.test\n\n")),
                       UpstreamRoute(url: "http://a.test:80/", requestTarget: "http://a.test:80/p?q",
                                     proxy: "http://user:pw@parent:3128", proxyTunnel: false,
                                     proxyDisplay: "http://parent:3128", parent: 0))
        XCTAssertEqual(r.route(head("GET https://a.test/p HTTP/1.1\nHost: a.test\n\n")),
                       UpstreamRoute(url: "https://a.test:443/", requestTarget: "/p", proxy: "http://user:pw@parent:3128",
                                     proxyTunnel: true, proxyDisplay: "http://parent:3128", parent: 0))
        // The second parent, a SOCKS one: origin-form, no HTTP tunnel.
        XCTAssertEqual(r.route(head("GET http://a.test/p?q HTTP/1.1\nHost: a.test\n\n"), parent: 1),
                       UpstreamRoute(url: "http://a.test:80/", requestTarget: "/p?q", proxy: "socks5h://backup:1080",
                                     proxyTunnel: false, proxyDisplay: "socks5h://backup:1080", parent: 1))
        XCTAssertEqual(r.tunnel(host: "a.test", port: 443, parent: 1).parent, 1)
        XCTAssertEqual(r.route(head("GET http://db.internal/ HTTP/1.1\nHost: db.internal\n\n")),
                       UpstreamRoute(url: "http://db.internal:80/", requestTarget: "/", proxy: "", proxyTunnel: false,
                                     proxyDisplay: nil))
        XCTAssertNil(r.route(head("GET /x HTTP/1.1\nHost: a\n\n")), "no reverse base")
        XCTAssertEqual(r.tunnel(host: "a.test", port: 443).proxyTunnel, true)
        XCTAssertEqual(r.tunnel(host: "x.internal", port: 443).proxy, "")
    }

    /// Failover order and backoff: up parents in order, then down ones by the end of their window; the
    /// window doubles with failures in a row and a success ends it.
    func testParentPool() {
        let pool = ParentPool([UpstreamProxy("http://a:1")!, UpstreamProxy("http://b:1")!, UpstreamProxy("http://c:1")!])
        let s: UInt64 = 1_000_000_000
        XCTAssertEqual(pool.order(now: 10 * s), [0, 1, 2])
        pool.failed(0, now: 10 * s, failedOver: true)
        XCTAssertEqual(pool.order(now: 10 * s), [1, 2, 0])
        XCTAssertFalse(pool.isUp(0, now: 10 * s + s / 2))
        XCTAssertEqual(pool.order(now: 11 * s), [0, 1, 2], "the window ended: tried first again (the probe)")
        pool.failed(0, now: 11 * s, failedOver: true)
        XCTAssertEqual(pool.order(now: 12 * s), [1, 2, 0], "second failure in a row: 2 s")
        XCTAssertEqual(pool.order(now: 13 * s), [0, 1, 2])
        pool.failed(1, now: 13 * s, failedOver: false)
        pool.failed(0, now: 13 * s, failedOver: false)
        XCTAssertEqual(pool.order(now: 13 * s), [2, 1, 0], "down ones by the end of their window")
        pool.succeeded(0)
        XCTAssertEqual(pool.order(now: 13 * s), [0, 2, 1])
        for _ in 0..<20 { pool.failed(2, now: 20 * s, failedOver: false) }
        XCTAssertTrue(pool.isUp(2, now: 80 * s), "at most 60 s")
        let text = pool.metricsText(now: 13 * s)
        XCTAssertTrue(text.contains("swproxy_parent_failures_total{parent=\"http://a:1\"} 3"), text)
        XCTAssertTrue(text.contains("swproxy_parent_failovers_total{parent=\"http://a:1\"} 2"), text)

        // One request's attempts: the order is fixed at the first, then walked.
        var attempts = ParentAttempts()
        XCTAssertEqual(attempts.current(nil, now: 0), 0, "no parents")
        XCTAssertFalse(attempts.hasNext)
        attempts = ParentAttempts()
        XCTAssertEqual(attempts.current(pool, now: 13 * s), 0)
        pool.failed(0, now: 13 * s, failedOver: true)
        XCTAssertEqual(attempts.current(pool, now: 13 * s), 0, "the order does not change mid-request")
        XCTAssertTrue(attempts.hasNext)
        attempts.advance()
        XCTAssertEqual(attempts.current(pool, now: 13 * s), 1, "down until 14 s")
        attempts.advance()
        XCTAssertEqual(attempts.current(pool, now: 13 * s), 2, "down until 80 s")
        XCTAssertFalse(attempts.hasNext)

        XCTAssertTrue(ParentPool.isParentFailure(.couldntConnect, connectCode: 0))
        XCTAssertTrue(ParentPool.isParentFailure(.recvError, connectCode: 503))
        XCTAssertFalse(ParentPool.isParentFailure(.sslConnectError, connectCode: 200), "the origin's TLS, in the tunnel")
        XCTAssertFalse(ParentPool.isParentFailure(.couldntResolveHost, connectCode: 0))
        XCTAssertFalse(ParentPool.isParentFailure(.recvError, connectCode: 407))
    }

    func testReverseAndUpgrade() {
        var c = ServeConfiguration()
        c.reverse = ReverseBase("http://backend:8000/api/")
        let r = UpstreamRouter(config: c)
        XCTAssertEqual(r.route(head("GET /v1?x HTTP/1.1\nHost: front\n\n"))?.url, "http://backend:8000/")
        XCTAssertEqual(r.route(head("GET /v1?x HTTP/1.1\nHost: front\n\n"))?.requestTarget, "/api/v1?x")
        let u = r.upgrade(head("GET /ws HTTP/1.1\nHost: front\n\n"))
        XCTAssertEqual(u?.host, "backend")
        XCTAssertEqual(u?.target, "/api/ws")
        XCTAssertEqual(u?.authority, "backend:8000")
        XCTAssertNil(r.upgrade(head("GET https://a/ HTTP/1.1\nHost: a\n\n")), "no Upgrade to an https:// origin")
    }
}
