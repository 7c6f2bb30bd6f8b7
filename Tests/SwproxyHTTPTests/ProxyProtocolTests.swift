import XCTest

@testable import SwproxyHTTP

/// PROXY protocol headers, each parsed whole and grown a byte at a time: the answer must not depend on how the
/// bytes arrived.
final class ProxyProtocolTests: XCTestCase {
    func parse(_ bytes: [UInt8]) -> ProxyProtocol.Result {
        let whole = bytes.withUnsafeBytes { ProxyProtocol.parse($0) }
        for n in 0..<bytes.count {
            let r = bytes.withUnsafeBytes { ProxyProtocol.parse(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if r == .needMore || r == whole { continue }
            if case .invalid = whole, case .invalid = r { return whole }  // an error may show early
            XCTFail("prefix of \(n) bytes gave \(r), the whole \(whole)")
        }
        return whole
    }

    func v2(cmd: UInt8 = 0x21, fam: UInt8, address: [UInt8], extra: [UInt8] = []) -> [UInt8] {
        let body = address + extra
        return ProxyProtocol.v2Signature + [cmd, fam, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    func testV1() {
        let line = Array("PROXY TCP4 203.0.113.7 10.0.0.1 51234 3128\r\nGET".utf8)
        XCTAssertEqual(parse(line), .header(.text(address: "203.0.113.7", port: 51234), consumed: line.count - 3))
        let v6 = Array("PROXY TCP6 2001:db8::1 ::1 1 2\r\n".utf8)
        XCTAssertEqual(parse(v6), .header(.text(address: "2001:db8::1", port: 1), consumed: v6.count))
        let unknown = Array("PROXY UNKNOWN whatever\r\n".utf8)
        XCTAssertEqual(parse(unknown), .header(.unspecified, consumed: unknown.count))
    }

    func testV1Invalid() {
        for text in [
            "GET http://x/ HTTP/1.1\r\n", "PROXY TCP4 1.2.3\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            "PROXY TCP4 " + String(repeating: "1", count: 100) + "\r\n", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        ] {
            guard case .invalid = parse(Array(text.utf8)) else {
                XCTFail("accepted \(text.debugDescription)")
                continue
            }
        }
    }

    func testV2() {
        let tcp4 = v2(fam: 0x11, address: [203, 0, 113, 7, 10, 0, 0, 1, 0xC8, 0x22, 0x0C, 0x38], extra: [0x04, 0, 1, 9])
        XCTAssertEqual(parse(tcp4 + [71]), .header(.binary(address: [203, 0, 113, 7], port: 51234), consumed: tcp4.count))
        let addr6 = [UInt8](repeating: 0, count: 15) + [1]
        let tcp6 = v2(fam: 0x21, address: addr6 + addr6 + [0, 80, 0, 81])
        XCTAssertEqual(parse(tcp6), .header(.binary(address: addr6, port: 80), consumed: tcp6.count))
        let local = v2(cmd: 0x20, fam: 0x00, address: [])
        XCTAssertEqual(parse(local), .header(.unspecified, consumed: 16))
    }

    func testV2Invalid() {
        let good = v2(fam: 0x11, address: [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2])
        var badSignature = good
        badSignature[5] = 1
        var badVersion = good
        badVersion[12] = 0x11
        var badCommand = good
        badCommand[12] = 0x22
        var badFamily = good
        badFamily[13] = 0x41
        let short = v2(fam: 0x11, address: [1, 2, 3, 4])
        let huge = ProxyProtocol.v2Signature + [0x21, 0x11, 0xFF, 0xFF]
        for (name, bytes) in [("signature", badSignature), ("version", badVersion), ("command", badCommand),
                              ("family", badFamily), ("short", short), ("huge", huge)] {
            guard case .invalid = parse(bytes) else {
                XCTFail("accepted v2 with bad \(name)")
                continue
            }
        }
    }
}
