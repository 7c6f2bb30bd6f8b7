import XCTest

@testable import SwproxyFetch

final class URLGlobTests: XCTestCase {
    func urls(_ p: String) throws -> [String] { try URLGlob(p).expand().map(\.url) }

    func testExpansions() throws {
        XCTAssertEqual(try urls("http://h/[1-3]"), ["http://h/1", "http://h/2", "http://h/3"])
        XCTAssertEqual(try urls("http://h/[08-10]"), ["http://h/08", "http://h/09", "http://h/10"])
        XCTAssertEqual(try urls("http://h/[001-002]"), ["http://h/001", "http://h/002"])
        XCTAssertEqual(try urls("http://h/[a-e:2]"), ["http://h/a", "http://h/c", "http://h/e"])
        XCTAssertEqual(try urls("http://h/{x,y}/[1-2]"), ["http://h/x/1", "http://h/x/2", "http://h/y/1", "http://h/y/2"])
        XCTAssertEqual(try urls("http://[::1]:80/{a,b}"), ["http://[::1]:80/a", "http://[::1]:80/b"])
        XCTAssertEqual(try urls("http://h/\\[1-2\\]"), ["http://h/[1-2]"])
        XCTAssertEqual(try URLGlob("http://h/[1-100]").count, 100)
    }

    func testErrors() {
        for bad in ["http://h/[1-", "http://h/{a,b", "http://h/[3-1]", "http://h/[a-9]", "http://h/x]"] {
            XCTAssertThrowsError(try URLGlob(bad), bad)
        }
    }

    func testOutputSubstitution() {
        XCTAssertEqual(URLGlob.substitute("f_#1_#2.txt", values: ["a", "7"]), "f_a_7.txt")
        XCTAssertEqual(URLGlob.substitute("#3#x", values: ["a"]), "#3#x")
    }
}

final class WriteOutTests: XCTestCase {
    func render(_ f: String, _ r: TransferReport) -> [String] { WriteOutFormat(f).render(r).map(\.1) }

    func testVariablesAndEscapes() {
        var r = TransferReport()
        r.responseCode = 404
        r.url = "http://h/"
        r.sizeDownload = 12
        r.timeTotal = 1_234_567
        r.exitCode = 22
        r.headers = [("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")]
        XCTAssertEqual(render("%{http_code} %{size_download} %{time_total}\\n", r), ["404 12 1.234567\n"])
        XCTAssertEqual(render("%header{x-a}|%{url}|100%%", r), ["2|http://h/|100%"])
        XCTAssertEqual(WriteOutFormat("%{stderr}e%{stdout}o").render(r).map { $0.0 == .stderr }, [true, false])
        XCTAssertEqual(render("a%{onerror}b", r), ["ab"])
        r.exitCode = 0
        XCTAssertEqual(render("a%{onerror}b", r), ["a"])
        XCTAssertEqual(WriteOutFormat("%{bogus}x").unknown, ["bogus"])
        r.responseCode = 0
        XCTAssertEqual(render("%{http_code}", r), ["000"])
    }

    func testJSONIsValidShape() {
        var r = TransferReport()
        r.url = "http://h/\"q\""
        let j = render("%{json}", r)[0]
        XCTAssertTrue(j.hasPrefix("{\"content_type\":null,"))
        XCTAssertTrue(j.contains("\"url\":\"http://h/\\\"q\\\"\""))
        XCTAssertTrue(j.hasSuffix("}"))
    }
}
