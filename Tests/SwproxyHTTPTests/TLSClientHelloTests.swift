import XCTest

@testable import SwproxyHTTP

/// The server name read from a tunnel's first bytes, against ClientHellos built here byte by byte.
final class TLSClientHelloTests: XCTestCase {
    static func u16(_ n: Int) -> [UInt8] { [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }

    static func ext(_ type: Int, _ data: [UInt8]) -> [UInt8] { u16(type) + u16(data.count) + data }

    static func sni(_ name: String) -> [UInt8] {
        let n = Array(name.utf8)
        let entry = [0] + u16(n.count) + n
        return ext(0, u16(entry.count) + entry)
    }

    /// A ClientHello handshake message with these extensions (nil: no extensions block at all).
    static func hello(_ extensions: [[UInt8]]?) -> [UInt8] {
        var body: [UInt8] = [3, 3] + Array(repeating: 7, count: 32)
        body += [32] + Array(repeating: 1, count: 32)  // session id
        body += u16(4) + [0x13, 0x01, 0x13, 0x02]  // cipher suites
        body += [1, 0]  // compression: null
        if let e = extensions {
            let all = e.flatMap { $0 }
            body += u16(all.count) + all
        }
        return [1, UInt8(body.count >> 16), UInt8(body.count >> 8 & 0xff), UInt8(body.count & 0xff)] + body
    }

    /// The message in records of at most `size` payload bytes.
    static func records(_ message: [UInt8], size: Int = 16384) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < message.count {
            let part = Array(message[i..<min(message.count, i + size)])
            out += [22, 3, 1] + u16(part.count) + part
            i += size
        }
        return out
    }

    func testServerName() {
        let bytes = Self.records(Self.hello([Self.ext(43, [2, 3, 4]), Self.sni("Example.COM"), Self.ext(16, [0, 3, 2, 104, 50])]))
        XCTAssertEqual(TLSClientHello.inspect(bytes), .hello(serverName: "Example.COM", ech: false))
        // Every prefix is "more, please"; the bytes after it do not matter.
        for n in [0, 1, 4, 5, 6, 40, bytes.count - 1] {
            XCTAssertEqual(TLSClientHello.inspect(Array(bytes[0..<n])), .needMore, "\(n) bytes")
        }
        XCTAssertEqual(TLSClientHello.inspect(bytes + Array("rest".utf8)), .hello(serverName: "Example.COM", ech: false))
    }

    func testSplitOverRecordsNoNameAndECH() {
        let message = Self.hello([Self.sni("a.test"), Self.ext(0xfe0d, [0, 1, 2, 3])])
        XCTAssertEqual(TLSClientHello.inspect(Self.records(message, size: 7)), .hello(serverName: "a.test", ech: true))
        XCTAssertEqual(TLSClientHello.inspect(Self.records(Self.hello([Self.ext(43, [2, 3, 4])]))),
                       .hello(serverName: nil, ech: false))
        XCTAssertEqual(TLSClientHello.inspect(Self.records(Self.hello(nil))), .hello(serverName: nil, ech: false))
    }

    func testNotTLSAndMalformed() {
        XCTAssertEqual(TLSClientHello.inspect(Array("GET / HTTP/1.1\r\n".utf8)), .notTLS)
        XCTAssertEqual(TLSClientHello.inspect(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)), .notTLS)
        XCTAssertEqual(TLSClientHello.inspect([22, 9]), .notTLS)
        // Two server_name extensions, a name with a space, a length past the message, a ServerHello,
        // an alert record after the first: none is a ClientHello to trust.
        XCTAssertEqual(TLSClientHello.inspect(Self.records(Self.hello([Self.sni("a.test"), Self.sni("b.test")]))), .malformed)
        XCTAssertEqual(TLSClientHello.inspect(Self.records(Self.hello([Self.sni("a test")]))), .malformed)
        var broken = Self.hello([Self.sni("a.test")])
        broken[broken.count - 8] = 0xff
        XCTAssertEqual(TLSClientHello.inspect(Self.records(broken)), .malformed)
        var serverHello = Self.hello([])
        serverHello[0] = 2
        XCTAssertEqual(TLSClientHello.inspect(Self.records(serverHello)), .malformed)
        let message = Self.hello([Self.sni("a.test")])
        let first = Self.records(Array(message[0..<10]))
        XCTAssertEqual(TLSClientHello.inspect(first + [21, 3, 3, 0, 2, 2, 40]), .malformed)
        // Bigger than the limit: decided as malformed, not held forever.
        let huge = Self.hello([Self.ext(21, Array(repeating: 0, count: TLSClientHello.limit))])
        XCTAssertEqual(TLSClientHello.inspect(Self.records(huge)), .malformed)
        XCTAssertEqual(TLSClientHello.inspect(Array(Self.records(huge).prefix(TLSClientHello.limit + 100))), .malformed)
    }
}
