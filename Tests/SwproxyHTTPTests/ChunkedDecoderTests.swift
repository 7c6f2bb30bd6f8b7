import XCTest

@testable import SwproxyHTTP

final class ChunkedDecoderTests: XCTestCase {
    /// Decodes `text` fed in pieces cut at `cuts`; returns the body, bytes consumed and done flag, or the error.
    func decode(_ text: String, cuts: [Int]) -> Result<(String, Int, Bool), HTTPError> {
        let bytes = Array(text.utf8)
        var d = ChunkedDecoder()
        var body: [UInt8] = []
        var consumed = 0
        var offset = 0
        for end in cuts + [bytes.count] where end >= offset {
            do {
                let used = try bytes.withUnsafeBytes { b in
                    try d.decode(UnsafeRawBufferPointer(rebasing: b[offset..<end])) { body += $0 }
                }
                consumed += used
                if d.isDone { break }
                offset = end
            } catch {
                return .failure(error as? HTTPError ?? HTTPError(0, "\(error)"))
            }
        }
        return .success((String(decoding: body, as: UTF8.self), consumed, d.isDone))
    }

    func check(_ text: String, body: String? = nil, status: Int? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let n = text.utf8.count
        var splits: [[Int]] = [[], Array(0..<n)]
        for s in 0..<n { splits.append([s]) }
        for cuts in splits {
            switch decode(text, cuts: cuts) {
            case .success(let (b, consumed, done)):
                if let expected = body {
                    XCTAssertEqual(b, expected, "cuts \(cuts)", file: file, line: line)
                    XCTAssertTrue(done, file: file, line: line)
                    XCTAssertEqual(consumed, text.utf8.count - (text.hasSuffix("NEXT") ? 4 : 0), file: file, line: line)
                } else {
                    XCTFail("expected \(status ?? 0) for \(text.debugDescription), decoded \(b.debugDescription)", file: file, line: line)
                    return
                }
            case .failure(let e):
                XCTAssertEqual(e.status, status, "\(text.debugDescription): \(e.reason)", file: file, line: line)
                if status == nil { return }
            }
        }
    }

    func testValid() {
        check("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", body: "hello world")
        check("A;name=val\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", body: "0123456789")
        check("0000000000000001\r\nx\r\n0\r\n\r\nNEXT", body: "x")
        check("0\r\n\r\n", body: "")
        check("1 ;ext\r\nx\r\n0\t;a=b\r\n\r\n", body: "x")
    }

    func testInvalid() {
        check("5\nhello\r\n0\r\n\r\n", status: 400)
        check("5\r\nhello\n0\r\n\r\n", status: 400)
        check("5\r\nhelloX\r\n0\r\n\r\n", status: 400)
        check("g\r\nx\r\n0\r\n\r\n", status: 400)
        check("\r\n", status: 400)
        check("-1\r\nx\r\n", status: 400)
        check("00000000000000001\r\nx\r\n0\r\n\r\n", status: 400)
        check("0x5\r\nhello\r\n0\r\n\r\n", status: 400)
        check("5\r\nhello\r\n0\r\nTrailer\nx\r\n\r\n", status: 400)
        check("5\r\nhello\r\n0\r\n\r\r", status: 400)
        // whitespace after the size may only lead to an extension
        check("1 x\r\nx\r\n0\r\n\r\n", status: 400)
        check("1 \r\nx\r\n0\r\n\r\n", status: 400)
        // the integration smuggling table's chunk cases
        check("2\nab\r\n0\r\n\r\n", status: 400)
        check("zz\r\nab\r\n0\r\n\r\n", status: 400)
        check("fffffffffffffffff\r\nab\r\n0\r\n\r\n", status: 400)
        check("2\r\nabX\r\n0\r\n\r\n", status: 400)
    }
}
