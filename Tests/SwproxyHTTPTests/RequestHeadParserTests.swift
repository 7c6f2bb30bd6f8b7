import XCTest

@testable import SwproxyHTTP

/// Every case is parsed whole, byte by byte, and split in two at every offset: the answer must not depend on
/// how the bytes arrived.
final class RequestHeadParserTests: XCTestCase {
    enum Expect {
        case ok((RequestHead) -> Void)
        case status(Int)
    }

    func feedWhole(_ bytes: [UInt8], limits: HeadLimits) -> ParseResult {
        var p = RequestHeadParser(limits: limits)
        return bytes.withUnsafeBytes { p.parse($0) }
    }

    /// Feeds growing prefixes split at `cuts`, as a connection buffer grows.
    func feed(_ bytes: [UInt8], cuts: [Int], limits: HeadLimits) -> ParseResult {
        var p = RequestHeadParser(limits: limits)
        for c in cuts + [bytes.count] {
            let r = bytes.withUnsafeBytes { p.parse(UnsafeRawBufferPointer(rebasing: $0[0..<c])) }
            if r != .needMore { return r }
        }
        return .needMore
    }

    func check(_ text: String, _ expect: Expect, limits: HeadLimits = HeadLimits(), file: StaticString = #filePath,
               line: UInt = #line)
    {
        let bytes = Array(text.utf8)
        var results = [feedWhole(bytes, limits: limits)]
        results.append(feed(bytes, cuts: Array(0..<bytes.count), limits: limits))
        for split in 0..<bytes.count { results.append(feed(bytes, cuts: [split], limits: limits)) }
        let first = results[0]
        for (i, r) in results.enumerated() where r != first {
            XCTFail("result depends on the split (#\(i)): \(r) vs \(first) for \(text.debugDescription)", file: file, line: line)
            return
        }
        switch (expect, first) {
        case (.ok(let verify), .head(let head, let consumed)):
            XCTAssertLessThanOrEqual(consumed, bytes.count, file: file, line: line)
            verify(head)
        case (.status(let s), .invalid(let e)):
            XCTAssertEqual(e.status, s, "\(text.debugDescription): \(e.reason)", file: file, line: line)
        default:
            XCTFail("\(text.debugDescription): expected \(expect), got \(first)", file: file, line: line)
        }
    }

    func testValidRequests() {
        check("GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Case: Kept\r\n\r\n", .ok { h in
            XCTAssertEqual(h.method, "GET")
            XCTAssertEqual(h.target, .absolute(scheme: "http", host: "example.com", port: 80, pathAndQuery: "/a?b=c"))
            XCTAssertEqual(h.version, .http11)
            XCTAssertEqual(h.fields, [HeaderField("Host", "example.com"), HeaderField("X-Case", "Kept")])
            XCTAssertEqual(h.framing, .none)
            XCTAssertTrue(h.keepAlive)
        })
        check("GET http://127.0.0.1:8080 HTTP/1.0\r\n\r\n", .ok { h in
            XCTAssertEqual(h.target, .absolute(scheme: "http", host: "127.0.0.1", port: 8080, pathAndQuery: "/"))
            XCTAssertFalse(h.keepAlive)
        })
        check("GET HTTPS://[::1]:8443/x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", .ok { h in
            XCTAssertEqual(h.target, .absolute(scheme: "https", host: "[::1]", port: 8443, pathAndQuery: "/x"))
            XCTAssertTrue(h.keepAlive)
        })
        check("\r\nPOST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", .ok { h in
            XCTAssertEqual(h.framing, .contentLength(5))
        })
        check("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", .ok { h in
            XCTAssertEqual(h.framing, .contentLength(5))
        })
        check("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", .ok { h in
            XCTAssertEqual(h.framing, .chunked)
        })
        check("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", .ok { h in
            XCTAssertEqual(h.target, .authority(host: "example.com", port: 443))
        })
        check("GET http://h/ HTTP/1.1\r\nHost: h\r\nConnection: close, X-Foo\r\nX-Empty:\r\n\r\n", .ok { h in
            XCTAssertEqual(h.connectionTokens, ["close", "x-foo"])
            XCTAssertFalse(h.keepAlive)
            XCTAssertEqual(h.field("x-empty"), "")
        })
        check("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", .ok { h in XCTAssertEqual(h.target, .asterisk) })
        check("GET /origin HTTP/1.1\r\nHost: h\r\nX-Tab:\tv\t \r\n\r\n", .ok { h in
            XCTAssertEqual(h.target, .origin("/origin"))
            XCTAssertEqual(h.field("x-tab"), "v")
        })
    }

    func testNeedMore() {
        var p = RequestHeadParser()
        let partial = Array("GET http://h/ HTTP/1.1\r\nHost: h\r\n".utf8)
        XCTAssertEqual(partial.withUnsafeBytes { p.parse($0) }, .needMore)
    }

    func testInvalidRequests() {
        let cases: [(String, Int)] = [
            // line endings, folding, whitespace, bad bytes
            ("GET http://h/ HTTP/1.1\nHost: h\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\r\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost : h\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost\t: h\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\r\nX: a\u{0B}b\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHo(st: h\r\n\r\n", 400),
            // request line
            ("GET  http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/  HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
            (" GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("G@T http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/ http/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/ HTTP/1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/ HTTP/2.0\r\nHost: h\r\n\r\n", 505),
            ("GET http://h/ HTTP/1.2\r\nHost: h\r\n\r\n", 505),
            // framing
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 3 3\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \u{0B}chunked\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST http://h/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            // the rest of the integration smuggling table (test_safety.py SMUGGLING), split here at every offset
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: -2\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\u{0B}\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551617\r\n\r\n", 400),
            ("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400),
            ("GET http://127.0.0.1:80@evil.example/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("G(ET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            // targets and Host
            ("GET /origin-form HTTP/1.1\r\n\r\n", 400),
            ("GET http://h/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http:///path HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h:0/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h:65536/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://a@b@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://h/#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET http://[::1/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("CONNECT http://h:443/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ]
        for (text, status) in cases { check(text, .status(status)) }
    }

    func testLimits() {
        let small = HeadLimits(requestLine: 64, headerBytes: 256, fieldCount: 3)
        check("GET http://h/\(String(repeating: "a", count: 100)) HTTP/1.1\r\nHost: h\r\n\r\n", .status(414), limits: small)
        check("GET http://h/ HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", .status(431), limits: small)
        check("GET http://h/ HTTP/1.1\r\nHost: h\r\nA: \(String(repeating: "x", count: 300))\r\n\r\n", .status(431), limits: small)
        // A request line that never ends is refused as soon as it passes the limit, without waiting for CRLF.
        var p = RequestHeadParser(limits: small)
        let endless = Array(("GET http://h/" + String(repeating: "a", count: 80)).utf8)
        XCTAssertEqual(endless.withUnsafeBytes { p.parse($0) }, .invalid(HTTPError(414, "request line too long")))
    }
}
