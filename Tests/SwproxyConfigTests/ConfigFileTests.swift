import XCTest

@testable import SwproxyConfig

final class ConfigFileTests: XCTestCase {
    func testLinesToEntries() throws {
        let cases: [(String, [ConfigFile.Entry])] = [
            ("silent", [.init(name: "silent", value: nil, line: 1)]),
            ("--silent\n", [.init(name: "silent", value: nil, line: 1)]),
            ("output = out.txt", [.init(name: "output", value: "out.txt", line: 1)]),
            ("output: out.txt", [.init(name: "output", value: "out.txt", line: 1)]),
            ("output out.txt", [.init(name: "output", value: "out.txt", line: 1)]),
            ("output=out.txt", [.init(name: "output", value: "out.txt", line: 1)]),
            ("header = \"X-A: 1\"", [.init(name: "header", value: "X-A: 1", line: 1)]),
            ("write-out = \"a\\tb\\n\\\"q\\\"\\\\\"", [.init(name: "write-out", value: "a\tb\n\"q\"\\", line: 1)]),
            ("# comment\n\n  url = http://x/  # trailing\n",
             [.init(name: "url", value: "http://x/", line: 3)]),
            ("a\r\nb = 2\r\n", [.init(name: "a", value: nil, line: 1), .init(name: "b", value: "2", line: 2)]),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try ConfigFile.parse(text, file: "f"), expected, text)
        }
    }

    func testErrorsNameFileAndLine() {
        let cases: [(String, String)] = [
            ("ok\nheader = \"unterminated", "cfg:2: unterminated quoted value"),
            ("output = two words", "cfg:1: unexpected text after the value of 'output' (quote values that contain spaces)"),
            ("= x", "cfg:1: missing option name"),
            ("a = \"x\" y", "cfg:1: unexpected text after a quoted value"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try ConfigFile.parse(text, file: "cfg")) { e in
                XCTAssertEqual((e as? ConfigFile.ParseError)?.description, message)
            }
        }
    }
}

final class ArgumentNormalizerTests: XCTestCase {
    let syntax = ArgumentSyntax(
        shortNames: ["s": "silent", "S": "show-error", "o": "output", "X": "request", "w": "write-out", "K": "config"],
        valued: ["output", "request", "write-out", "config", "header"],
        flags: ["silent", "show-error", "location"],
        configOption: "config")

    func normalize(_ args: [String], files: [String: String] = [:]) throws -> [String] {
        try ArgumentNormalizer(syntax: syntax) { path in
            guard let t = files[path] else { throw ArgumentError("No such file") }
            return t
        }.normalize(args)
    }

    func testClustersAndAttachedValues() throws {
        XCTAssertEqual(try normalize(["-sSo", "f", "u"]), ["--silent", "--show-error", "--output", "f", "u"])
        XCTAssertEqual(try normalize(["-XPOST", "-w%{x}"]), ["--request", "POST", "--write-out", "%{x}"])
        XCTAssertEqual(try normalize(["-sofile"]), ["--silent", "--output", "file"])
        XCTAssertEqual(try normalize(["--output=a=b", "-o", "-"]), ["--output", "a=b", "--output", "-"])
        XCTAssertEqual(try normalize(["-w", "-%{x}"]), ["--write-out", "-%{x}"])
        XCTAssertEqual(try normalize(["--", "-s"]), ["--", "-s"])
    }

    func testErrorsNameTheOption() {
        XCTAssertThrowsError(try normalize(["-q"])) { XCTAssertEqual("\($0)", "option -q: is unknown") }
        XCTAssertThrowsError(try normalize(["-o"])) { XCTAssertEqual("\($0)", "option -o: requires parameter") }
        XCTAssertThrowsError(try normalize(["--silent=yes"])) {
            XCTAssertEqual("\($0)", "option --silent: does not take a value")
        }
    }

    func testConfigFileIsSplicedInPlace() throws {
        let files = ["c": "silent\noutput = \"a b\"\n-o x\nheader: \"H: v\"\n"]
        XCTAssertEqual(
            try normalize(["-o", "first", "-K", "c", "u"], files: files),
            ["--silent", "--output", "a b", "--output", "x", "--header", "H: v", "--output", "first", "u"])
        XCTAssertThrowsError(try normalize(["-K", "c"], files: ["c": "nope = 1"])) {
            XCTAssertEqual("\($0)", "c:1: unknown option 'nope'")
        }
        XCTAssertThrowsError(try normalize(["-K", "c"], files: ["c": "output"])) {
            XCTAssertEqual("\($0)", "c:1: option 'output' requires a value")
        }
        XCTAssertThrowsError(try normalize(["-K", "missing"])) {
            XCTAssertTrue("\($0)".hasPrefix("can't read config from \"missing\""))
        }
    }

    func testNoFormsSwitchFlagsOff() throws {
        let files = ["c": "silent\nlocation\n", "d": "silent\nno-silent\n"]
        // A config file's flag, switched off on the command line (curl's --no-NAME).
        XCTAssertEqual(try normalize(["-K", "c", "--no-silent", "u"], files: files), ["--location", "u"])
        // Order counts: a later flag is on again.
        XCTAssertEqual(try normalize(["--silent", "--no-silent", "-s"]), ["--silent"])
        XCTAssertEqual(try normalize(["-K", "d", "u"], files: files), ["u"])
        // Values are values: nothing is switched off, nothing swallowed.
        XCTAssertEqual(try normalize(["-s", "-X", "--no-silent"]), ["--silent", "--request", "--no-silent"])
        XCTAssertEqual(try normalize(["-s", "--", "--no-silent"]), ["--silent", "--", "--no-silent"])
        // Unknown flags and valued options have no --no- form: left for the parser to name.
        XCTAssertEqual(try normalize(["--no-bogus"]), ["--no-bogus"])
        XCTAssertEqual(try normalize(["--no-output"]), ["--no-output"])
        XCTAssertThrowsError(try normalize(["--no-silent=1"])) {
            XCTAssertEqual("\($0)", "option --no-silent: does not take a value")
        }
    }

    func testNoFormsOverrideTheConfigFileForServe() throws {
        let n = ArgumentNormalizer(syntax: syntax) { _ in "silent\nrequest = PUT\n" }
        XCTAssertEqual(try n.configThenCommandLine(["-K", "c", "--no-silent"]) { _ in }, ["--request", "PUT"])
        XCTAssertEqual(try n.configThenCommandLine(["-K", "c"]) { _ in }, ["--silent", "--request", "PUT"])
        // A `no-NAME` line in the file is applied, not handed to the entry check (which knows no such option).
        let m = ArgumentNormalizer(syntax: syntax) { _ in "silent\nno-silent\nrequest = PUT\n" }
        XCTAssertEqual(
            try m.configThenCommandLine(["-K", "c"]) { e in
                if e[0].hasPrefix("--no-") { throw ArgumentError("checked \(e[0])") }
            }, ["--request", "PUT"])
    }

    func testOrderedExtraction() {
        let tokens = ["--output", "a", "u1", "--silent", "--output", "--silent", "u2"]
        let got = syntax.ordered(tokens, names: ["output", "silent"])
        XCTAssertEqual(got.map(\.name), ["output", "silent", "output"])
        XCTAssertEqual(got.map(\.value), ["a", nil, "--silent"])
    }
}
