import Glibc
import XCTest

@testable import SwproxyHTTP

/// Replays the fuzz seed corpus (and any crash inputs saved next to it) through the fuzz oracle in a plain
/// build, so what the fuzzer checks is checked on every `make test` too.
final class FuzzCorpusReplayTests: XCTestCase {
    func testCorpusReplays() throws {
        let dir = URLPath.repoRoot + "/Fuzz/corpus"
        guard let d = opendir(dir) else { return XCTFail("no corpus at \(dir)") }
        defer { closedir(d) }
        var count = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasPrefix(".") { continue }
            guard let f = fopen(dir + "/" + name, "rb") else { continue }
            var bytes: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buf, 1, 4096, f)
                if n == 0 { break }
                bytes += buf[0..<n]
            }
            fclose(f)
            bytes.withUnsafeBytes { FuzzEntry.run($0) }
            count += 1
        }
        XCTAssertGreaterThan(count, 30)
    }
}

enum URLPath {
    /// The repository root, from this file's path (#filePath is absolute under SwiftPM).
    static var repoRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }
}
