import Glibc
import SwproxyCurl
import XCTest

@testable import SwproxyFetch

/// curl's -F syntax (tool_formparse.c), rule by rule.
final class FormParserTests: XCTestCase {
    private func parse(_ specs: [String], literal: Bool = false) throws -> ([MimePart], [String]) {
        var p = FormParser(readStdin: { () throws(FetchError) in Array("from stdin".utf8) })
        for s in specs { try p.parse(s, literal: literal) }
        let parts = p.finish()
        return (parts, p.warnings)
    }

    private var file: String {
        let path = "/tmp/swproxy-form-test-\(getpid()).txt"
        let f = fopen(path, "w")
        fputs("x", f)
        fclose(f)
        return path
    }

    func testValueTypeAndCharset() throws {
        let (parts, _) = try parse(["html= <body>hi</body>;type=text/html;charset=verymoo"])
        XCTAssertEqual(parts, [MimePart(name: "html", content: .value("<body>hi</body>"), contentType: "text/html;charset=verymoo")])
    }

    func testQuotedFileNameWithSeparatorsAndEscapes() throws {
        let f = file
        let (parts, _) = try parse(["file=@\"\(f)\";type=mo/foo;filename=\"fa\\\"ker,and;.txt\""])
        XCTAssertEqual(parts, [MimePart(name: "file", content: .file(f), filename: "fa\"ker,and;.txt", contentType: "mo/foo")])
    }

    func testSeveralFilesMakeOneMixedPart() throws {
        let f = file
        let (parts, _) = try parse(["file=@\(f),\(f);type=magic/content,\(f)"])
        XCTAssertEqual(parts.count, 1)
        XCTAssertEqual(parts[0].name, "file")
        guard case .parts(let sub) = parts[0].content else { return XCTFail("not a multipart") }
        XCTAssertEqual(sub.map(\.contentType), [nil, "magic/content", nil])
        XCTAssertTrue(sub.allSatisfy { $0.name == nil && $0.content == .file(f) })
    }

    func testStdinUploadAndUnknownAttribute() throws {
        // An unknown attribute is skipped with a warning; after a type it is one of the type's parameters.
        let (typed, none) = try parse(["up=@-;type=text/x-null;format=x-curl"])
        XCTAssertEqual(typed[0].contentType, "text/x-null;format=x-curl")
        XCTAssertEqual(none, [])
        let (parts, warnings) = try parse(["up=@-;format=x-curl;filename=/dev/null;type=text/x-null"])
        XCTAssertEqual(parts, [MimePart(name: "up", content: .bytes(Array("from stdin".utf8), isFile: true),
                                        filename: "/dev/null", contentType: "text/x-null")])
        XCTAssertEqual(warnings, ["skip unknown form field: format=x-curl"])
    }

    func testHeadersAndEncoder() throws {
        let (parts, _) = try parse(["a=b;encoder=8bit;headers=X-One: 1;headers=X-Two: 2"])
        XCTAssertEqual(parts[0].encoder, "8bit")
        XCTAssertEqual(parts[0].headers, ["X-One: 1", "X-Two: 2"])
    }

    func testLiteralKeepsEverything() throws {
        let (parts, _) = try parse(["str2=<verbatim;type=xxx/yyy"], literal: true)
        XCTAssertEqual(parts, [MimePart(name: "str2", content: .value("<verbatim;type=xxx/yyy"))])
    }

    func testNestedMultipartAndNoName() throws {
        let (parts, _) = try parse(["outer=(;type=multipart/alternative", "=inner", "=)", "=empty-name"])
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0].contentType, "multipart/alternative")
        XCTAssertEqual(parts[0].content, .parts([MimePart(name: nil, content: .value("inner"))]))
        XCTAssertEqual(parts[1], MimePart(name: nil, content: .value("empty-name")))
    }

    func testBadInput() {
        XCTAssertThrowsError(try parse(["no-equals-sign"]))
        XCTAssertThrowsError(try parse(["a=b;type=nonsense"]))
        XCTAssertThrowsError(try parse(["=)"]))  // nothing to close
        XCTAssertThrowsError(try parse(["f=@/nonexistent/file"]))
    }

    func testFieldHeaderFile() {
        let text = Array("# comment\nX-A: 1\n  continued\r\nX-B: 2\n".utf8)
        // As curl: a line starting with a space continues the header (the newline itself is dropped).
        XCTAssertEqual(FormParser.fieldHeaders(text), ["X-A: 1  continued", "X-B: 2"])
    }
}

/// --libcurl's pieces that follow curl's own code.
final class LibcurlSourceTests: XCTestCase {
    func testCEscape() {
        let bytes: [UInt8] = Array("ab".utf8) + [0x81] + Array("cd".utf8) + [0] + Array("e\\\"?\r\n\t".utf8) + [1]
            + Array("fghi".utf8) + [0x1a] + Array("jklm".utf8) + [0xfd]
        XCTAssertEqual(LibcurlSource.escape(bytes), "ab\\201cd\\000e\\\\\\\"\\?\\r\\n\\t\\001fghi\\x1ajklm\\xfd")
    }

    func testProtocolSets() {
        let known = ["dict", "file", "ftp", "ftps", "http", "https"]
        XCTAssertEqual(CurlSettings.protocolSet("=http,ftp,file", initial: known, known: known).0, "file,ftp,http")
        XCTAssertEqual(CurlSettings.protocolSet("-all,+https", initial: known, known: known).0, "https")
        XCTAssertEqual(CurlSettings.protocolSet("-ftp,-ftps", initial: known, known: known).0, "dict,file,http,https")
        let (set, warnings) = CurlSettings.protocolSet("=gopherz", initial: known, known: known)
        XCTAssertEqual(set, "")
        XCTAssertEqual(warnings, ["unrecognized protocol 'gopherz'"])
    }

    func testContentDispositionFilename() {
        for (value, name) in [(" attachment; filename=\"a b.txt\"", "a b.txt"), (" inline; filename=x.bin; size=3", "x.bin"),
                              (" attachment; filename='../../etc/passwd'", "passwd"), (" attachment", nil),
                              (" attachment; filename=\"dir/\"", nil), (" attachment; xfilename=no", nil),
                              (" attachment; filename=c:\\\\temp\\\\w.exe\r\n", "w.exe")] as [(String, String?)] {
            XCTAssertEqual(FetchPlan.contentDispositionFilename(value), name, value)
        }
    }
}
