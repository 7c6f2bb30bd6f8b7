import Glibc
import XCTest

@testable import SwproxyFetch

/// The segment plan, the sidecar, the response fields and the digests of `--segments` and `--checksum`.
final class SegmentPlanTests: XCTestCase {
    func ranges(_ p: SegmentPlan) -> [Range<Int64>] { p.segments.map { $0.start..<$0.end } }

    func testInitialPlans() {
        XCTAssertEqual(ranges(SegmentPlan(size: 100, count: 4, minSegment: 10)), [0..<25, 25..<50, 50..<75, 75..<100])
        XCTAssertEqual(ranges(SegmentPlan(size: 100, count: 4, minSegment: 40)), [0..<50, 50..<100],
                       "no segment under the minimum")
        XCTAssertEqual(ranges(SegmentPlan(size: 30, count: 16, minSegment: 40)), [0..<30], "smaller than one segment")
        XCTAssertEqual(ranges(SegmentPlan(size: 0, count: 4, minSegment: 1)), [], "an empty file has nothing to fetch")
        XCTAssertEqual(ranges(SegmentPlan(size: 7, count: 3, minSegment: 1)), [0..<3, 3..<5, 5..<7])
        XCTAssertEqual(SegmentPlan(size: 7, count: 3, minSegment: 1).segments.map(\.remaining).reduce(0, +), 7)
    }

    /// A resumed download plans only what is missing, and starts where the first gap is.
    func testResumedPlan() {
        let p = SegmentPlan(size: 100, count: 4, minSegment: 10, done: [0..<40, 60..<70])
        XCTAssertEqual(p.firstMissing, 40)
        XCTAssertEqual(ranges(p).reduce(Int64(0)) { $0 + Int64($1.count) }, 50)
        XCTAssertTrue(ranges(p).allSatisfy { !$0.overlaps(0..<40) && !$0.overlaps(60..<70) })
        XCTAssertEqual(p.completed, [0..<40, 60..<70])
        let whole = SegmentPlan(size: 100, count: 4, minSegment: 10, done: [0..<100])
        XCTAssertTrue(whole.isComplete)
        XCTAssertEqual(whole.firstMissing, 0)
    }

    func testAcceptClipsAtTheSegmentEnd() {
        var p = SegmentPlan(size: 100, count: 2, minSegment: 10)
        XCTAssertEqual(p.accept(30, segment: 0), 30)
        XCTAssertEqual(p.accept(30, segment: 0), 20, "the rest belongs to segment 1")
        XCTAssertTrue(p.segments[0].isDone)
        XCTAssertEqual(p.accept(5, segment: 0), 0)
        XCTAssertEqual(p.completed, [0..<50])
        XCTAssertEqual(p.contiguousEnd(from: 0), 50)
        XCTAssertEqual(p.accept(10, segment: 1), 10)
        XCTAssertEqual(p.contiguousEnd(from: 0), 60, "segment 1 continues the prefix")
    }

    /// When a segment is done, the largest remaining one is cut in two, never below the minimum.
    func testAdaptiveSplit() {
        var p = SegmentPlan(size: 100, count: 2, minSegment: 10)
        _ = p.accept(50, segment: 0)
        _ = p.accept(10, segment: 1)
        XCTAssertEqual(p.split(), 2)
        XCTAssertEqual(p.segments[1].end, 80)
        XCTAssertEqual(p.segments[2].start, 80)
        XCTAssertEqual(p.segments[2].end, 100)
        XCTAssertEqual(p.accept(25, segment: 1), 20, "segment 1 is cut where segment 2 starts")
        XCTAssertEqual(p.split(), 3, "20 left in segment 2: two halves of 10")
        XCTAssertNil(p.split(), "nothing left with 2 × 10")
    }

    func testSplitStopsAtTheMinimum() {
        var p = SegmentPlan(size: 100, count: 1, minSegment: 30)
        _ = p.accept(45, segment: 0)
        XCTAssertNil(p.split(), "55 left: halves of 27 are under 30")
        var q = SegmentPlan(size: 100, count: 1, minSegment: 20)
        _ = q.accept(40, segment: 0)
        XCTAssertEqual(q.split(), 1)
        XCTAssertEqual(q.segments.map(\.remaining), [30, 30])
    }

    func testPartFileRoundTrip() {
        let part = PartFile(url: "http://127.0.0.1:1/f", size: 1000, validator: "\"abc\"", ranges: [0..<100, 500..<600])
        XCTAssertEqual(PartFile.parse(part.render()), part)
        XCTAssertNil(PartFile.parse("swproxy-part 2\nurl x\nsize 1\n"), "another version")
        XCTAssertNil(PartFile.parse("swproxy-part 1\nurl x\nsize 10\nrange 5 20\n"), "a range past the size")
        XCTAssertNil(PartFile.parse("swproxy-part 1\nsize 10\n"), "no URL")
    }

    func testPartFileWriteIsAtomic() throws {
        let dir = "/tmp/swproxy-partfile-\(getpid())"
        mkdir(dir, 0o755)
        defer {
            unlink(dir + "/f.swproxy-part")
            rmdir(dir)
        }
        let part = PartFile(url: "u", size: 10, validator: "v", ranges: [0..<5])
        XCTAssertTrue(part.write(for: dir + "/f"))
        XCTAssertEqual(PartFile.read(for: dir + "/f"), part)
        XCTAssertEqual(access(dir + "/f.swproxy-part.tmp", F_OK), -1, "no temporary left")
        PartFile.remove(for: dir + "/f")
        XCTAssertNil(PartFile.read(for: dir + "/f"))
    }

    func testResponseFields() {
        var f = ResponseFields()
        for l in ["HTTP/1.1 301 Moved", "ETag: \"old\"", "HTTP/1.1 206 Partial Content", "Content-Range: bytes 10-19/100",
                  "etag: \"v1\"", "Last-Modified: Tue, 01 Dec 2026 10:00:00 GMT"] {
            Array((l + "\r\n").utf8).withUnsafeBytes { f.take($0) }
        }
        XCTAssertEqual(f.contentRange, ResponseFields.ContentRange(start: 10, end: 19, size: 100))
        XCTAssertEqual(f.validator, "\"v1\"", "the last response's, a strong ETag first")
        f.etag = "W/\"weak\""
        XCTAssertEqual(f.validator, "Tue, 01 Dec 2026 10:00:00 GMT", "a weak ETag cannot go in If-Range")
        XCTAssertEqual(ResponseFields.parseContentRange("bytes 0-0/*"), ResponseFields.ContentRange(start: 0, end: 0, size: nil))
        XCTAssertNil(ResponseFields.parseContentRange("bytes 5-4/10"))
        XCTAssertNil(ResponseFields.parseContentRange("bytes 0-10/10"), "past the end")
        XCTAssertNil(ResponseFields.parseContentRange("items 0-1/2"))
    }

    func testChecksums() throws {
        let abc = Array("abc".utf8)
        let expected: [(Checksum.Algorithm, String)] = [
            (.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (.md5, "900150983cd24fb0d6963f7d28e17f72"),
            (.sha512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ]
        for (alg, hex) in expected {
            let d = Digest(alg)
            abc.withUnsafeBytes { d.update(UnsafeRawBufferPointer(rebasing: $0[0..<1])) }
            abc.withUnsafeBytes { d.update(UnsafeRawBufferPointer(rebasing: $0[1...])) }
            XCTAssertEqual(d.finish(), hex, "\(alg)")
            XCTAssertEqual(try Checksum(parsing: "\(alg.rawValue.uppercased())=\(hex.uppercased())").expected, hex)
        }
        XCTAssertThrowsError(try Checksum(parsing: "sha256=abc"), "too short")
        XCTAssertThrowsError(try Checksum(parsing: "crc32=00000000"), "unknown algorithm")
        XCTAssertThrowsError(try Checksum(parsing: "sha256"), "no value")
        XCTAssertEqual(try Checksum(parsing: "SHA-1=a9993e364706816aba3e25717850c26c9cd0d89d").algorithm, .sha1)
    }
}
