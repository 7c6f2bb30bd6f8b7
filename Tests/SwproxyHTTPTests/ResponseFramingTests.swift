import XCTest

@testable import SwproxyHTTP

/// RFC 9112 §6.3 as a table: the origin's body framing, then how the proxy relays it to each client.
final class ResponseFramingTests: XCTestCase {
    func testBody() {
        let te = [HeaderField("Transfer-Encoding", "chunked")]
        let cl = [HeaderField("Content-Length", "12")]
        let rows: [(String, Int, [HeaderField], ResponseFraming.Body)] = [
            ("GET", 200, cl, .length(12)), ("GET", 200, te, .chunked), ("GET", 200, te + cl, .chunked), ("GET", 200, cl + te, .chunked),
            ("GET", 200, [], .close), ("HEAD", 200, cl, .none), ("GET", 204, cl, .none), ("GET", 304, te, .none),
            ("GET", 101, [], .none), ("GET", 199, [], .none), ("POST", 201, [HeaderField("content-length", "0")], .length(0)),
            ("GET", 200, cl + [HeaderField("Content-Length", "12")], .length(12)),
            ("GET", 200, cl + [HeaderField("Content-Length", "13")], .length(nil)),
            ("GET", 200, [HeaderField("Content-Length", "x")], .length(nil)),
        ]
        for (method, status, fields, body) in rows {
            XCTAssertEqual(ResponseFraming.body(method: method, status: status, fields: fields), body,
                           "\(method) \(status) \(fields)")
        }
    }

    func testRelay() {
        typealias D = ResponseFraming.Decision
        let rows: [(ResponseFraming.Body, HTTPVersion, Bool, Bool, D)] = [
            (.length(5), .http11, true, false, D(relay: .passThrough, chunked: false, connection: nil, keepAlive: true)),
            (.length(5), .http10, true, false, D(relay: .passThrough, chunked: false, connection: "keep-alive", keepAlive: true)),
            (.length(5), .http11, false, false, D(relay: .passThrough, chunked: false, connection: "close", keepAlive: false)),
            (.length(5), .http11, true, true, D(relay: .passThrough, chunked: false, connection: "close", keepAlive: false)),
            (.chunked, .http11, true, false, D(relay: .passThrough, chunked: true, connection: nil, keepAlive: true)),
            (.chunked, .http10, true, false, D(relay: .dechunk, chunked: false, connection: "close", keepAlive: false)),
            (.close, .http11, true, false, D(relay: .chunkEncode, chunked: true, connection: nil, keepAlive: true)),
            (.close, .http10, true, false, D(relay: .closeDelimited, chunked: false, connection: "close", keepAlive: false)),
            (.none, .http11, true, false, D(relay: .none, chunked: false, connection: nil, keepAlive: true)),
            (.none, .http10, true, false, D(relay: .none, chunked: false, connection: "keep-alive", keepAlive: true)),
            (.none, .http11, true, true, D(relay: .none, chunked: false, connection: "close", keepAlive: false)),
        ]
        for (body, version, keep, draining, d) in rows {
            XCTAssertEqual(ResponseFraming.relay(body, clientVersion: version, keepAlive: keep, draining: draining), d,
                           "\(body) \(version) keep=\(keep) draining=\(draining)")
        }
    }

    /// The fields a client gets: hop-by-hop ones dropped, the framing fields and Via added, in that order.
    func testClientFields() {
        let origin = [HeaderField("Content-Type", "text/plain"), HeaderField("Connection", "x-trace"),
                      HeaderField("X-Trace", "1"), HeaderField("Keep-Alive", "timeout=5"),
                      HeaderField("Transfer-Encoding", "chunked"), HeaderField("Via", "1.1 origin-cache")]
        let d = ResponseFraming.Decision(relay: .passThrough, chunked: true, connection: "close", keepAlive: false)
        XCTAssertEqual(ResponseFraming.clientFields(origin, decision: d, via: "1.1 px").map { "\($0.name): \($0.value)" },
                       ["Content-Type: text/plain", "Via: 1.1 origin-cache, 1.1 px", "Transfer-Encoding: chunked",
                        "Connection: close"])
        XCTAssertEqual(ResponseFraming.clientFields([HeaderField("Link", "</a>")], decision: nil, via: nil).map(\.name),
                       ["Link"], "an interim head with --no-via")
    }

    func testUpgradeAnswerFields() {
        let switching = [HeaderField("Upgrade", "websocket"), HeaderField("Connection", "Upgrade"),
                         HeaderField("Sec-WebSocket-Accept", "k")]
        XCTAssertEqual(ResponseFraming.upgradeAnswerFields(status: 101, origin: switching, via: "1.1 px")
                        .map { "\($0.name): \($0.value)" },
                       ["Sec-WebSocket-Accept: k", "Via: 1.1 px", "Connection: Upgrade", "Upgrade: websocket"])
        let refused = [HeaderField("Transfer-Encoding", "chunked"), HeaderField("Content-Type", "text/html")]
        XCTAssertEqual(ResponseFraming.upgradeAnswerFields(status: 403, origin: refused, via: nil)
                        .map { "\($0.name): \($0.value)" },
                       ["Content-Type: text/html", "Connection: close", "Transfer-Encoding: chunked"])
    }
}
