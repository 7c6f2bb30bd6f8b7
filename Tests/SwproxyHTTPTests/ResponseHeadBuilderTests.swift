import XCTest

@testable import SwproxyHTTP

final class ResponseHeadBuilderTests: XCTestCase {
    func take(_ b: inout ResponseHeadBuilder, _ line: String) -> ResponseHeadBuilder.LineResult {
        Array(line.utf8).withUnsafeBytes { b.take($0) }
    }

    func testStatusLines() {
        for (line, status, reason) in [("HTTP/1.1 200 OK\r\n", 200, "OK"), ("HTTP/2 204 \r\n", 204, ""),
                                       ("HTTP/1.0 404 Not Found\n", 404, "Not Found"), ("HTTP/1.1 101\r\n", 101, ""),
                                       ("HTTP/1.1 599 Custom reason here\r\n", 599, "Custom reason here")] {
            var b = ResponseHeadBuilder()
            XCTAssertEqual(take(&b, line), .more, line)
            XCTAssertEqual(b.status, status, line)
            XCTAssertEqual(b.reason, reason, line)
        }
        for line in ["HTTP/1.1 20 OK\r\n", "HTTP/1.1 2000 OK\r\n", "HTTX/1.1 200 OK\r\n", "HTTP/1.1 2x0 OK\r\n", "HTTP\r\n",
                     "\r\n", "HTTP/1.1 099 Low\r\n", "HTTP/1.1200 OK\r\n"] {
            var b = ResponseHeadBuilder()
            XCTAssertEqual(take(&b, line), .invalid, line)
        }
    }

    func testFields() {
        var b = ResponseHeadBuilder()
        XCTAssertEqual(take(&b, "HTTP/1.1 200 OK\r\n"), .more)
        XCTAssertEqual(take(&b, "Content-Type: text/plain\r\n"), .more)
        XCTAssertEqual(take(&b, "X-Empty:\r\n"), .more)
        XCTAssertEqual(take(&b, "X-Pad: \t spaced value \t\r\n"), .more)
        XCTAssertEqual(take(&b, "x-lower:a:b\r\n"), .more)
        XCTAssertEqual(take(&b, "\r\n"), .complete)
        XCTAssertEqual(b.fields, [HeaderField("Content-Type", "text/plain"), HeaderField("X-Empty", ""),
                                  HeaderField("X-Pad", "spaced value"), HeaderField("x-lower", "a:b")])
        XCTAssertEqual(b.field("content-type"), "text/plain")
        for bad in ["NoColon\r\n", ": no name\r\n", "Bad Name: x\r\n", "Bad(: x\r\n"] {
            var c = ResponseHeadBuilder()
            _ = take(&c, "HTTP/1.1 200 OK\r\n")
            XCTAssertEqual(take(&c, bad), .invalid, bad)
        }
    }

    /// RFC 9110 §6.6.1: the receipt time is appended as Date only to a head without one (any case of the name).
    func testAddDate() {
        let now = "Thu, 03 Dec 2026 18:00:00 GMT"
        for (lines, want) in [
            (["Content-Length: 0"], [HeaderField("Content-Length", "0"), HeaderField("Date", now)]),
            (["Date: Mon, 01 Jan 2024 00:00:00 GMT"], [HeaderField("Date", "Mon, 01 Jan 2024 00:00:00 GMT")]),
            (["dAtE: x", "X-Date: y"], [HeaderField("dAtE", "x"), HeaderField("X-Date", "y")]),
            (["X-Date: y", "Dates: z"], [HeaderField("X-Date", "y"), HeaderField("Dates", "z"), HeaderField("Date", now)]),
        ] {
            var b = ResponseHeadBuilder()
            _ = take(&b, "HTTP/1.1 200 OK\r\n")
            for l in lines { XCTAssertEqual(take(&b, l + "\r\n"), .more, l) }
            XCTAssertEqual(take(&b, "\r\n"), .complete)
            var made = 0
            b.addDate({ made += 1; return now }())
            b.addDate(now)
            XCTAssertEqual(b.fields, want, "\(lines)")
            XCTAssertEqual(made, want.last?.value == now ? 1 : 0, "made only when missing")
        }
        var empty = ResponseHeadBuilder()
        empty.addDate(now)
        XCTAssertEqual(empty.fields, [], "nothing before a status line")
    }

    func testHeadWriter() {
        let out = HeadWriter.response(status: 204, reason: "", fields: [HeaderField("A", "1"), HeaderField("B", "")])
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 204 No Content\r\nA: 1\r\nB: \r\n\r\n")
        let custom = HeadWriter.response(status: 599, reason: "Mine", fields: [])
        XCTAssertEqual(String(decoding: custom, as: UTF8.self), "HTTP/1.1 599 Mine\r\n\r\n")
        // Sized by bytes, not characters: multi-byte values and long (non-small) strings come out whole.
        let long = String(repeating: "v", count: 300)
        let utf8 = HeadWriter.response(status: 200, reason: "Grüße", fields: [HeaderField("X-Ü", "é€"), HeaderField("X-Long", long)])
        XCTAssertEqual(String(decoding: utf8, as: UTF8.self), "HTTP/1.1 200 Grüße\r\nX-Ü: é€\r\nX-Long: \(long)\r\n\r\n")
        let request = HeadWriter.request(method: "GET", target: "/chat", fields: [HeaderField("Host", "h"), HeaderField("Upgrade", "websocket")])
        XCTAssertEqual(String(decoding: request, as: UTF8.self), "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(HeadWriter.request(method: "GET", target: "/", fields: []), Array("GET / HTTP/1.1\r\n\r\n".utf8))
    }
}

final class HopByHopTests: XCTestCase {
    func testConnectionTokensAndFilter() {
        let fields = [HeaderField("Connection", " Keep-Alive ,X-Drop,, close "), HeaderField("X-Drop", "1"),
                      HeaderField("Keep-Alive", "timeout=5"), HeaderField("TE", "trailers"), HeaderField("X-Keep", "y"),
                      HeaderField("Transfer-Encoding", "chunked"), HeaderField("PROXY-AUTHORIZATION", "x"),
                      HeaderField("Upgrade", "h2c"), HeaderField("Trailer", "X"), HeaderField("Proxy-Connection", "k"),
                      HeaderField("Proxy-Authenticate", "Basic"), HeaderField("connection", "\tUpgrade")]
        let tokens = HopByHop.connectionTokens(fields)
        XCTAssertEqual(tokens, ["keep-alive", "x-drop", "close", "upgrade"])
        XCTAssertEqual(HopByHop.filter(fields, connectionTokens: tokens), [HeaderField("X-Keep", "y")])
        XCTAssertEqual(HopByHop.filter([HeaderField("Content-Type", "a"), HeaderField("Tee", "b")], connectionTokens: []),
                       [HeaderField("Content-Type", "a"), HeaderField("Tee", "b")])
    }
}
