import XCTest

@testable import SwproxyLoop

final class ByteBufferTests: XCTestCase {
    func testAppendConsumeAndRelease() {
        var b = ByteBuffer()
        b.append("hello world")
        XCTAssertEqual(b.readableBytes, 11)
        b.consume(6)
        XCTAssertEqual(Array(b.readable), Array("world".utf8))
        b.append("!")
        XCTAssertEqual(String(decoding: b.readable, as: UTF8.self), "world!")
        b.consume(6)
        XCTAssertTrue(b.isEmpty)
        b.releaseIfEmpty()
        XCTAssertEqual(b.storage.capacity, 0)
    }

    func testSocketAddressParsing() {
        XCTAssertEqual(SocketAddress(parsing: "127.0.0.1:8080")?.description, "127.0.0.1:8080")
        XCTAssertEqual(SocketAddress(parsing: "[::1]:80")?.description, "[::1]:80")
        XCTAssertNil(SocketAddress(parsing: "::1:80"))
        XCTAssertNil(SocketAddress(parsing: "localhost:80"))
        XCTAssertNil(SocketAddress(parsing: "1.2.3.4:99999"))
        XCTAssertTrue(SocketAddress(parsing: "127.0.0.2:1")!.isLoopback)
        XCTAssertFalse(SocketAddress(parsing: "10.0.0.1:1")!.isLoopback)
    }
}
