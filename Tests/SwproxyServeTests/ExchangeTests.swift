import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop
import XCTest

@testable import SwproxyServe

/// A client seen through the seam, without a socket: input to take, output collected.
final class FakeClient: ClientSide {
    var peer: SocketAddress? = SocketAddress(host: "192.0.2.1", port: 4000)
    var peerHost = "192.0.2.1"
    var wouldDeny: String?
    var input: [UInt8] = []
    var inputEnded = false
    var output: [UInt8] = []
    var writes = 0
    var paused = false
    var deadline: UInt64?
    var ending: String?

    var inputBuffered: Int { input.count }
    func takeInput(_ body: (UnsafeRawBufferPointer) -> Int) {
        guard !input.isEmpty else { return }
        let n = input.withUnsafeBytes(body)
        input.removeFirst(n)
    }
    func pauseReading(_ p: Bool) { paused = p }
    func send(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        output += bytes
        writes += 1
    }
    func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { send($0) } }
    func sendFile(_ fd: Int32, offset: inout Int64, count: Int) -> SendFileResult { .unsupported }
    var outputFull = false
    var outputLow = true
    var outputEmpty: Bool { output.isEmpty }
    var isClosed = false
    func shutdownOutput() { ending = "shutdown" }
    func setDeadline(at: UInt64) { deadline = at }
    func clearDeadline() { deadline = nil }
    func finished(keepAlive: Bool) { ending = "finished \(keepAlive)" }
    func failed(_ error: ProxyError, head: RequestHead?) { ending = "failed \(error.status)" }
    func closeAfterFlush() { ending = "closeAfterFlush" }
    func abort() { ending = "abort" }

    var text: String { String(decoding: output, as: UTF8.self) }
}

/// The request body from the client to libcurl's read callback.
final class RequestBodyTests: XCTestCase {
    func fill(_ body: inout RequestBody, _ client: FakeClient, policy: Policy, size: Int = 64) -> (UploadChunk, [UInt8]) {
        var buf = [UInt8](repeating: 0, count: size)
        let r = buf.withUnsafeMutableBytes { body.fill($0, from: client, policy: policy) }
        if case .bytes(let n) = r { return (r, Array(buf[0..<n])) }
        return (r, [])
    }

    func testContentLength() {
        let p = Policy(config: ServeConfiguration())
        var b = RequestBody(.contentLength(10))
        let c = FakeClient()
        XCTAssertTrue(b.present)
        guard case .pause = fill(&b, c, policy: p).0 else { return XCTFail("no input: pause") }
        c.input = Array("hello".utf8)
        XCTAssertEqual(fill(&b, c, policy: p).1, Array("hello".utf8))
        c.input = Array("worldNEXT".utf8)  // the next pipelined request stays with the connection
        XCTAssertEqual(fill(&b, c, policy: p).1, Array("world".utf8))
        XCTAssertEqual(c.input, Array("NEXT".utf8))
        guard case .end = fill(&b, c, policy: p).0 else { return XCTFail("end") }
        XCTAssertTrue(b.isComplete)
        XCTAssertEqual(b.bytesIn, 10)
    }

    func testClientGoneMidBodyAborts() {
        let p = Policy(config: ServeConfiguration())
        var b = RequestBody(.contentLength(10))
        let c = FakeClient()
        c.input = Array("abc".utf8)
        c.inputEnded = true
        _ = fill(&b, c, policy: p)
        guard case .abort = fill(&b, c, policy: p).0 else { return XCTFail("abort") }
        XCTAssertFalse(b.isComplete)
    }

    func testChunkedIsDecodedAndBounded() {
        var config = ServeConfiguration()
        config.maxBodySize = 8
        let p = Policy(config: config)
        var b = RequestBody(.chunked)
        let c = FakeClient()
        c.input = Array("5\r\nhello\r\n0\r\n\r\n".utf8)
        XCTAssertEqual(fill(&b, c, policy: p).1, Array("hello".utf8))
        guard case .end = fill(&b, c, policy: p).0 else { return XCTFail("end") }
        XCTAssertTrue(b.isComplete)

        var big = RequestBody(.chunked)
        c.input = Array("9\r\n123456789\r\n".utf8)
        guard case .abort = fill(&big, c, policy: p).0 else { return XCTFail("too large") }
        XCTAssertEqual(big.failure, .bodyTooLarge)

        var bad = RequestBody(.chunked)
        c.input = Array("zz\r\n".utf8)
        guard case .abort = fill(&bad, c, policy: p).0 else { return XCTFail("invalid") }
        XCTAssertEqual(bad.failure?.status, 400)
    }

    func testNoBody() {
        let p = Policy(config: ServeConfiguration())
        var b = RequestBody(.none)
        XCTAssertFalse(b.present)
        XCTAssertTrue(b.isComplete)
        guard case .end = fill(&b, FakeClient(), policy: p).0 else { return XCTFail("end") }
        XCTAssertTrue(RequestBody(.contentLength(0)).present)
    }
}

/// The response side: libcurl's lines and pieces in, the client's bytes out, and how the exchange ends.
final class ExchangeResponseTests: XCTestCase {
    func lines(_ r: inout ExchangeResponse, _ head: String, to c: FakeClient, draining: Bool = false) -> [ExchangeResponse.HeaderStep] {
        head.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { l in
            Array((l + "\r\n").utf8).withUnsafeBytes { r.headerLine($0, draining: draining, send: { c.send($0) }) }
        }
    }

    func body(_ r: inout ExchangeResponse, _ s: String, to c: FakeClient) -> Bool {
        Array(s.utf8).withUnsafeBytes { r.body($0, draining: false, send: { c.send($0) }) }
    }

    func testHeadIsHeldForTheFirstBodyBytes() {
        var r = ExchangeResponse(method: "GET", clientVersion: .http11, keepAlive: true, via: "1.1 px")
        let c = FakeClient()
        let steps = lines(&r, "HTTP/1.1 200 OK\nContent-Length: 2\nConnection: x\nX: 1\nDate: Mon, 01 Jan 2024 00:00:00 GMT\n\n", to: c)
        XCTAssertEqual(steps.last, .head)
        XCTAssertTrue(r.started)
        XCTAssertEqual(c.writes, 0, "held")
        XCTAssertTrue(body(&r, "hi", to: c))
        XCTAssertEqual(c.writes, 1, "head and body in one write")
        XCTAssertEqual(c.text, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nVia: 1.1 px\r\n\r\nhi")
        r.finish(draining: false, send: { c.send($0) })
        XCTAssertEqual(r.ending(ok: true, body: RequestBody(.none), refused: false) { .loop }, .complete(keepAlive: true))
        XCTAssertEqual(r.bytesOut, 2)
        XCTAssertEqual(r.status, 200)
    }

    func testCloseDelimitedBodyIsChunkedForHTTP11() {
        var r = ExchangeResponse(method: "GET", clientVersion: .http11, keepAlive: true, via: nil)
        let c = FakeClient()
        _ = lines(&r, "HTTP/1.1 200 OK\nDate: Mon, 01 Jan 2024 00:00:00 GMT\n\n", to: c)
        _ = body(&r, "abc", to: c)
        r.finish(draining: false, send: { c.send($0) })
        XCTAssertEqual(c.text, "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    }

    func testChunkedBodyIsDecodedForHTTP10() {
        var r = ExchangeResponse(method: "GET", clientVersion: .http10, keepAlive: true, via: nil)
        let c = FakeClient()
        _ = lines(&r, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nDate: Mon, 01 Jan 2024 00:00:00 GMT\n\n", to: c)
        _ = body(&r, "3\r\nabc\r\n0\r\n\r\n", to: c)
        r.finish(draining: false, send: { c.send($0) })
        XCTAssertEqual(c.text, "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nConnection: close\r\n\r\nabc")
        XCTAssertEqual(r.ending(ok: true, body: RequestBody(.none), refused: false) { .loop }, .complete(keepAlive: false))
        var broken = ExchangeResponse(method: "GET", clientVersion: .http10, keepAlive: true, via: nil)
        _ = lines(&broken, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n", to: c)
        XCTAssertFalse(body(&broken, "zz\r\n", to: c), "an origin's broken chunking aborts")
    }

    /// RFC 9110 §6.6.1: a final head without Date goes out with the time it was received; an interim one as
    /// it came.
    func testDateIsAppendedToAFinalHeadWithoutOne() {
        var r = ExchangeResponse(method: "GET", clientVersion: .http11, keepAlive: true, via: nil)
        let c = FakeClient()
        let before = time(nil)
        _ = lines(&r, "HTTP/1.1 100 Continue\n\nHTTP/1.1 204 No Content\n\n", to: c)
        let after = time(nil)
        let parts = c.text.components(separatedBy: "\r\n")
        XCTAssertEqual(Array(parts.prefix(3)), ["HTTP/1.1 100 Continue", "", "HTTP/1.1 204 No Content"])
        XCTAssertEqual(parts.count, 6, c.text)
        XCTAssertTrue(parts[3].hasPrefix("Date: "), c.text)
        let stamp = HTTPDate.parse(String(parts[3].dropFirst(6)))
        XCTAssertNotNil(stamp)
        XCTAssertTrue((before...after).contains(stamp ?? 0), parts[3])
    }

    func testInterimResponses() {
        var r = ExchangeResponse(method: "POST", clientVersion: .http11, keepAlive: true, via: "1.1 px")
        let c = FakeClient()
        XCTAssertEqual(lines(&r, "HTTP/1.1 100 Continue\n\n", to: c).last, .head)
        XCTAssertFalse(r.started)
        XCTAssertEqual(c.text, "HTTP/1.1 100 Continue\r\nVia: 1.1 px\r\n\r\n")
        var old = ExchangeResponse(method: "POST", clientVersion: .http10, keepAlive: false, via: "1.1 px")
        let d = FakeClient()
        _ = lines(&old, "HTTP/1.1 103 Early Hints\nLink: </a>\n\n", to: d)
        XCTAssertEqual(d.writes, 0, "no 1xx for an HTTP/1.0 client")
        _ = lines(&old, "HTTP/1.1 101 Switching Protocols\n\n", to: d)
        XCTAssertEqual(d.writes, 0, "101 is not relayed by an exchange")
    }

    func testBodilessResponseGoesOutAtOnce() {
        var r = ExchangeResponse(method: "HEAD", clientVersion: .http11, keepAlive: true, via: nil)
        let c = FakeClient()
        _ = lines(&r, "HTTP/1.1 200 OK\nContent-Length: 99\nDate: Mon, 01 Jan 2024 00:00:00 GMT\n\n", to: c)
        XCTAssertEqual(c.text, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n")
        var d = ExchangeResponse(method: "GET", clientVersion: .http11, keepAlive: true, via: nil)
        _ = lines(&d, "HTTP/1.1 200 OK\n\n", to: c, draining: true)
        XCTAssertEqual(d.ending(ok: true, body: RequestBody(.none), refused: false) { .loop }, .complete(keepAlive: false),
                       "draining ends the connection")
    }

    /// How an exchange ends, as a table: libcurl's result, what was sent, the request body, a refused address.
    func testEndings() {
        let fresh = ExchangeResponse(method: "GET", clientVersion: .http11, keepAlive: true, via: nil)
        var started = fresh
        _ = lines(&started, "HTTP/1.1 200 OK\nContent-Length: 5\n\n", to: FakeClient())
        let upstream = ProxyError.upstream(.couldntConnect, "refused")
        let unread = RequestBody(.contentLength(5))  // the origin answered before reading it
        XCTAssertEqual(started.ending(ok: true, body: unread, refused: false) { upstream }, .complete(keepAlive: false))
        XCTAssertEqual(fresh.ending(ok: false, body: RequestBody(.none), refused: false) { upstream }, .answer(upstream))
        XCTAssertEqual(fresh.ending(ok: false, body: RequestBody(.none), refused: true) { upstream },
                       .answer(.destinationDenied))
        XCTAssertEqual(started.ending(ok: false, body: RequestBody(.none), refused: false) { upstream },
                       .truncated(reason: "upstream-aborted"))

        var config = ServeConfiguration()
        config.maxBodySize = 1
        let p = Policy(config: config)
        var big = RequestBody(.chunked)
        let c = FakeClient()
        c.input = Array("5\r\nhello\r\n".utf8)
        var buf = [UInt8](repeating: 0, count: 16)
        _ = buf.withUnsafeMutableBytes { big.fill($0, from: c, policy: p) }
        XCTAssertEqual(fresh.ending(ok: false, body: big, refused: false) { upstream }, .answer(.bodyTooLarge))
        XCTAssertEqual(started.ending(ok: false, body: big, refused: false) { upstream },
                       .truncated(reason: "upstream-aborted"))
        var bad = RequestBody(.chunked)
        c.input = Array("x\r\n".utf8)
        _ = buf.withUnsafeMutableBytes { bad.fill($0, from: c, policy: p) }
        XCTAssertEqual(fresh.ending(ok: false, body: bad, refused: false) { upstream }.status, 400)
        XCTAssertEqual(started.ending(ok: false, body: bad, refused: false) { upstream }, .dropped)
    }
}

extension ExchangeResponse.Ending {
    var status: Int? {
        if case .answer(let e) = self { return e.status }
        return nil
    }
}

/// The upstream read timeout and the tunnel idle time, with a manual clock.
final class ActivityDeadlineTests: XCTestCase {
    func testActivityMovesTheDeadline() {
        var d = ActivityDeadline(span: 100, now: 0)
        XCTAssertEqual(d.at, 100)
        d.touch(60)
        XCTAssertEqual(d.check(now: 100, excused: false), .rearm(160))
        XCTAssertEqual(d.check(now: 160, excused: false), .expired)
    }

    /// Waiting on a slow client is not the upstream's fault: the clock starts again.
    func testWaitingOnTheClientIsExcused() {
        var d = ActivityDeadline(span: 100, now: 0)
        XCTAssertEqual(d.check(now: 150, excused: true), .rearm(250))
        XCTAssertEqual(d.check(now: 250, excused: false), .expired)
    }
}
