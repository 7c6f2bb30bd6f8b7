import Glibc
import XCTest

@testable import SwproxyFetch

final class OrderedStdoutTests: XCTestCase {
    /// Writes chunks for several indices out of order through a tiny memory limit (so later ones spill to
    /// temporary files) and checks that the pipe receives each index whole and in order.
    func testOutOfOrderWritesComeOutInOrderAndSpill() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let out = OrderedStdout(count: 4, memoryLimit: 8, fd: fds[1])
        func w(_ i: Int, _ s: String) { XCTAssertTrue(out.write(i, s)) }
        w(2, "two-a;")  // held in memory
        w(3, "three-a-long-enough-to-spill;")  // over the limit: spilled
        w(0, "zero-a;")  // current: straight through
        w(2, "two-b;")  // over the limit now: spilled after its memory part
        w(1, "one;")
        XCTAssertLessThanOrEqual(out.heldInMemory, 8, "held bytes went past the memory limit")
        XCTAssertEqual(out.spilledCount, 3, "indices 1, 2 and 3 should have spilled to temporary files")
        out.finish(2)
        out.finish(3)
        w(0, "zero-b;")
        out.finish(0)  // 1 becomes current: its held bytes go out
        out.finish(1)  // 2 and 3 are finished: flushed in order
        close(fds[1])
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, 4096)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        close(fds[0])
        XCTAssertEqual(
            String(decoding: data, as: UTF8.self),
            "zero-a;zero-b;one;two-a;two-b;three-a-long-enough-to-spill;")
    }
}
