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
    func testHostRules() {
        let rules = HostRules(allow: ["example.com", "*.example.org"], deny: ["bad.example.org"])
        for (host, ok) in [("example.com", true), ("EXAMPLE.com", true), ("www.example.com", false),
                           ("a.example.org", true), ("example.org", false), ("bad.example.org", false),
                           ("x.bad.example.org", true), ("other.net", false)] {
            XCTAssertEqual(rules.permits(host), ok, host)
        }
        XCTAssertTrue(HostRules(allow: [], deny: ["x.com"]).permits("y.com"))
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
        c.denyHosts = ["blocked.test"]
        c.maxBodySize = 10
        let p = Policy(config: c)
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
        XCTAssertTrue(text.hasSuffix("\r\n\r\ndestination host not allowed\n"), text)
    }
}

/// The forwarded fields, hop by hop (RFC 9110 §7.6, RFC 7239).
final class UpstreamHeadTests: XCTestCase {
    func testForwardProxyFields() {
        let h = head("GET http://a.test/ HTTP/1.1\nHost: a.test\nConnection: keep-alive, X-Drop\nX-Drop: 1\n"
            + "Keep-Alive: 5\nVia: 1.0 first\nX-Forwarded-For: 1.2.3.4\nX-Keep: yes\n\n")
        let client = SocketAddress(host: "10.0.0.7", port: 5)
        let fields = UpstreamHead(config: ServeConfiguration(), head: h, client: client, clientHost: "10.0.0.7").fields()
        XCTAssertEqual(fields.map { "\($0.name): \($0.value)" },
                       ["X-Keep: yes", "Via: 1.0 first, 1.1 swproxy", "X-Forwarded-For: 1.2.3.4, 10.0.0.7"])
    }

    func testQuoting() {
        XCTAssertEqual(UpstreamHead.quoted("token"), "token")
        XCTAssertEqual(UpstreamHead.quoted("[::1]"), "\"[::1]\"")
        XCTAssertEqual(UpstreamHead.quoted("a\"b\\c"), "\"a\\\"b\\\\c\"")
        XCTAssertEqual(UpstreamHead.curlLines([HeaderField("X-Empty", ""), HeaderField("X-A", "1")]), ["X-Empty;", "X-A: 1"])
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
        let p = Policy(config: c)
        XCTAssertEqual(p.verdict(for: head("GET http://a/ HTTP/1.1\nHost: a\n\n"), client: nil), .forward)
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
    func testRoutes() {
        var c = ServeConfiguration()
        c.upstreamProxy = UpstreamProxy("http://user:pw@parent:3128")
        c.noUpstreamProxyFor = ["*.internal"]
        let r = UpstreamRouter(config: c)
        XCTAssertEqual(r.route(head("GET http://a.test/p?q HTTP/1.1\nHost: a.test\n\n")),
                       UpstreamRoute(url: "http://a.test:80/", requestTarget: "http://a.test:80/p?q",
                                     proxy: "http://user:pw@parent:3128", proxyTunnel: false,
                                     proxyDisplay: "http://parent:3128"))
        XCTAssertEqual(r.route(head("GET https://a.test/p HTTP/1.1\nHost: a.test\n\n")),
                       UpstreamRoute(url: "https://a.test:443/", requestTarget: "/p", proxy: "http://user:pw@parent:3128",
                                     proxyTunnel: true, proxyDisplay: "http://parent:3128"))
        XCTAssertEqual(r.route(head("GET http://db.internal/ HTTP/1.1\nHost: db.internal\n\n")),
                       UpstreamRoute(url: "http://db.internal:80/", requestTarget: "/", proxy: "", proxyTunnel: false,
                                     proxyDisplay: nil))
        XCTAssertNil(r.route(head("GET /x HTTP/1.1\nHost: a\n\n")), "no reverse base")
        XCTAssertEqual(r.tunnel(host: "a.test", port: 443).proxyTunnel, true)
        XCTAssertEqual(r.tunnel(host: "x.internal", port: 443).proxy, "")
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
