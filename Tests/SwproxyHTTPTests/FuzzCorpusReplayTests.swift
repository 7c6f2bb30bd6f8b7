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
            guard let bytes = Self.read(dir + "/" + name) else { continue }
            bytes.withUnsafeBytes { FuzzEntry.run($0) }
            count += 1
        }
        XCTAssertGreaterThan(count, 30)
    }

    /// What each named corpus file stands for: the parser's answer to it (a status, or a head), and for a
    /// chunked head, what the decoder makes of the body after it (the same statuses test_safety.py expects
    /// from the running proxy). A file added without a verdict here fails.
    static let verdicts: [String: String] = [
        "bare-cr": "400", "bare-lf": "400", "bare-lf-chunk-line": "head, chunked body 400",
        "chunk-size-17-digits": "head, chunked body 400", "chunk-size-not-hex": "head, chunked body 400",
        "chunk-size-overflow": "head, chunked body 400", "chunk-without-crlf": "head, chunked body 400",
        "cl-and-te": "400", "cl-hex": "400", "cl-inner-space": "400", "cl-list-differs": "400", "cl-minus-sign": "400",
        "cl-overflow": "400", "cl-plus-sign": "400", "extra-spaces": "400", "invalid-method": "400",
        "nul-in-head": "400", "obs-fold": "400", "space-before-colon": "400", "tab-before-colon": "400",
        "te-and-cl": "400", "te-case": "400", "te-chunked-identity": "400",
        "te-chunked-suffix": "400", "te-duplicated-chunked": "400", "te-duplicated-odd": "400", "te-http10": "400",
        "te-trailing-vt": "400", "te-upper": "400", "te-vertical-tab": "400", "te-xchunked": "400",
        "trailing-space": "400", "two-cl": "400", "url-no-host": "400", "url-port-range": "400",
        "url-userinfo": "400", "url-userinfo-trick": "400", "valid-chunked": "head, chunked body ok",
        "valid-connect": "head", "valid-get": "head", "valid-http10": "head",
    ]

    func testEachCorpusFileGetsItsVerdict() throws {
        let dir = URLPath.repoRoot + "/Fuzz/corpus"
        var seen: Set<String> = []
        for name in Self.verdicts.keys.sorted() {
            guard let bytes = Self.read(dir + "/" + name) else {
                XCTFail("corpus file \(name) is missing")
                continue
            }
            seen.insert(name)
            XCTAssertEqual(Self.verdict(bytes), Self.verdicts[name], name)
        }
        if let d = opendir(dir) {
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name.hasPrefix(".") || name.hasPrefix("crash-") { continue }
                XCTAssertTrue(seen.contains(name), "corpus file \(name) has no verdict in FuzzCorpusReplayTests.verdicts")
            }
        }
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, 4096, f)
            if n == 0 { break }
            bytes += buf[0..<n]
        }
        return bytes
    }

    static func verdict(_ bytes: [UInt8]) -> String {
        var p = RequestHeadParser()
        switch bytes.withUnsafeBytes({ p.parse($0) }) {
        case .needMore: return "incomplete"
        case .invalid(let e): return String(e.status)
        case .head(let head, let consumed):
            guard head.framing == .chunked else { return "head" }
            var d = ChunkedDecoder()
            do {
                _ = try bytes[consumed...].withUnsafeBytes { try d.decode($0) { _ in } }
                return d.isDone ? "head, chunked body ok" : "head, chunked body incomplete"
            } catch {
                return "head, chunked body \((error as? HTTPError)?.status ?? 0)"
            }
        }
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
