import Glibc
import SwproxyHTTP
import XCTest

@testable import SwproxyServe

/// RFC 9111's rules as tables, and the store's files: what is stored, how fresh it is, how old, what a
/// request may reuse; entries that survive a restart and evictions that keep the size.
final class CacheRulesTests: XCTestCase {
    let get = head("GET http://a.test/x HTTP/1.1\nHost: a.test\n\n")

    func f(_ pairs: [(String, String)]) -> [HeaderField] { pairs.map { HeaderField($0.0, $0.1) } }

    /// A hit's head built from the entry's fixed prefix is byte for byte the head built field by field.
    func testHitHeadFromThePrefixIsTheHeadBuiltFieldByField() {
        let stored: [[(String, String)]] = [
            [("Content-Type", "text/plain"), ("ETag", "\"e\""), ("Cache-Control", "max-age=60")],
            [("Age", "7"), ("Date", HTTPDate.format(1_700_000_000)), ("X-A", "b")],
            [],
        ]
        let decisions = [(HTTPVersion.http11, true), (.http11, false), (.http10, true), (.http10, false)].map {
            ResponseFraming.relay(.length(1024), clientVersion: $0.0, keepAlive: $0.1, draining: false)
        }
        XCTAssertEqual(Set(decisions.map { $0.connection ?? "" }), ["", "close", "keep-alive"])
        for pairs in stored {
            for d in decisions {
                for via in ["1.1 h (swproxy/1)", nil] as [String?] {
                    let fields = f(pairs)
                    guard let prefix = CacheJob.hitHeadPrefix(status: 200, reason: "OK", fields: fields) else {
                        return XCTFail("no prefix for \(pairs)")
                    }
                    var byField = fields.filter { !$0.isNamed("age") }
                    byField += [HeaderField("Age", "42"), HeaderField("Cache-Status", "swproxy; hit; ttl=3"),
                                HeaderField("Content-Length", "1024")]
                    let want = HeadWriter.response(status: 200, reason: "OK",
                                                   fields: ResponseFraming.clientFields(byField, decision: d, via: via))
                    let got = CacheJob.hitHead(prefix: prefix, age: 42, cacheStatus: "hit; ttl=3", length: 1024, decision: d, via: via)
                    XCTAssertEqual(got.map { String(decoding: $0, as: UTF8.self) }, String(decoding: want, as: UTF8.self))
                }
            }
        }
        // What a hit merges into is left to the field-by-field path.
        XCTAssertNil(CacheJob.hitHeadPrefix(status: 200, reason: "OK", fields: f([("Via", "1.1 origin")])))
        XCTAssertNil(CacheJob.hitHeadPrefix(status: 200, reason: "OK", fields: f([("Cache-Status", "other; hit")])))
        let prefix = CacheJob.hitHeadPrefix(status: 200, reason: "OK", fields: [])!
        XCTAssertNil(CacheJob.hitHead(prefix: prefix, age: 0, cacheStatus: "hit", length: 1,
                                      decision: ResponseFraming.relay(.close, clientVersion: .http11, keepAlive: true, draining: false),
                                      via: nil))
    }

    func testStorability() {
        let date = HTTPDate.format(1_700_000_000)
        let cases: [(Int, [(String, String)], RequestHead?, String?)] = [
            (200, [("Cache-Control", "max-age=60")], nil, nil),
            (200, [("Cache-Control", "no-store")], nil, "no-store"),
            (200, [("Cache-Control", "private, max-age=60")], nil, "private"),
            (200, [("Cache-Control", "max-age=60"), ("Set-Cookie", "a=b")], nil, "set-cookie"),
            (200, [("Cache-Control", "max-age=60"), ("Vary", "Accept, *")], nil, "vary-star"),
            (206, [("Cache-Control", "max-age=60")], nil, "status"),
            (304, [("Cache-Control", "max-age=60")], nil, "status"),
            (302, [("Date", date)], nil, "status"),  // no explicit freshness, not heuristically cacheable
            (302, [("Cache-Control", "max-age=60")], nil, nil),
            (200, [("Date", date)], nil, "no-freshness"),  // nothing to reuse it by
            (200, [("Date", date), ("ETag", "\"e\"")], nil, nil),  // stale at once, revalidated
            (200, [("Cache-Control", "max-age=60")], head("GET http://a.test/x HTTP/1.1\nHost: a.test\nAuthorization: Basic x\n\n"), "authorization"),
            (200, [("Cache-Control", "public, max-age=60")], head("GET http://a.test/x HTTP/1.1\nHost: a.test\nAuthorization: Basic x\n\n"), nil),
            (200, [("Cache-Control", "max-age=60")], head("POST http://a.test/x HTTP/1.1\nHost: a.test\nContent-Length: 0\n\n"), "method"),
            (200, [("Cache-Control", "max-age=60")], head("GET http://a.test/x HTTP/1.1\nHost: a.test\nCache-Control: no-store\n\n"), "no-store"),
            (200, [("Cache-Control", "max-age=60"), ("Content-Length", "2000")], nil, "too-large"),
        ]
        for (status, fields, request, want) in cases {
            XCTAssertEqual(CacheRules.unstorable(request: request ?? get, status: status, fields: f(fields), maxObject: 1000,
                                                 responseTime: 1_700_000_000),
                           want, "\(status) \(fields)")
        }
    }

    func testFreshnessLifetime() {
        let d = 1_700_000_000
        let cases: [(Int, [(String, String)], Int)] = [
            (200, [("Cache-Control", "max-age=60, s-maxage=10")], 10),
            (200, [("Cache-Control", "max-age=60")], 60),
            (200, [("Date", HTTPDate.format(d)), ("Expires", HTTPDate.format(d + 90))], 90),
            (200, [("Date", HTTPDate.format(d)), ("Expires", "0")], 0),  // invalid: in the past
            (200, [("Date", HTTPDate.format(d)), ("Last-Modified", HTTPDate.format(d - 1000))], 100),
            (200, [("Date", HTTPDate.format(d)), ("Last-Modified", HTTPDate.format(d - 10_000_000))], 86_400),
            (302, [("Date", HTTPDate.format(d)), ("Last-Modified", HTTPDate.format(d - 1000))], 0),
            (302, [("Cache-Control", "public"), ("Date", HTTPDate.format(d)), ("Last-Modified", HTTPDate.format(d - 1000))], 100),
            // No Date (or an invalid one): counted from when the response was received, d + 30 here.
            (200, [("Expires", HTTPDate.format(d + 90))], 60),
            (200, [("Date", "yesterday"), ("Expires", HTTPDate.format(d + 90))], 60),
            (200, [("Expires", HTTPDate.format(d))], 0),
            (200, [("Last-Modified", HTTPDate.format(d + 30 - 1000))], 100),
        ]
        for (status, fields, want) in cases {
            XCTAssertEqual(CacheRules.freshnessLifetime(status: status, fields: f(fields), responseTime: d + 30), want,
                           "\(fields)")
        }
    }

    func testHTTPDates() {
        XCTAssertEqual(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784_111_777)
        XCTAssertEqual(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784_111_777)
        XCTAssertEqual(HTTPDate.parse("Sun Nov  6 08:49:37 1994"), 784_111_777)
        XCTAssertNil(HTTPDate.parse("yesterday"))
        XCTAssertEqual(HTTPDate.format(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    func testAge() {
        // RFC 9111 §4.2.3: the origin's Age, plus the response delay, plus the time resident.
        let fields = f([("Date", HTTPDate.format(1000)), ("Age", "30")])
        XCTAssertEqual(CacheRules.age(fields: fields, requestTime: 998, responseTime: 1000, now: 1010), 30 + 2 + 10)
        // An origin's absurd Age is clamped (RFC 9111 §1.2.2), not an overflow that stops the proxy.
        let huge = f([("Age", "9223372036854775807"), ("Cache-Control", "max-age=60, min-fresh=9223372036854775807")])
        XCTAssertEqual(CacheRules.age(fields: huge, requestTime: 0, responseTime: Int(Int32.max), now: Int(Int32.max) * 2),
                       CacheDirectives.maxDelta + Int(Int32.max) + Int(Int32.max))
        XCTAssertEqual(CacheRules.reuse(request: head("GET http://a.test/x HTTP/1.1\nHost: a.test\nCache-Control: min-fresh=99999999999999999999\n\n"),
                                        fields: huge, lifetime: 60, age: CacheDirectives.maxDelta * 2), .revalidate(byClient: false))
        // A Date in the past counts as apparent age.
        XCTAssertEqual(CacheRules.age(fields: f([("Date", HTTPDate.format(900))]), requestTime: 1000, responseTime: 1000, now: 1000), 100)
    }

    func testReuse() {
        let fresh = f([("Cache-Control", "max-age=100")])
        func r(_ extra: String) -> RequestHead { head("GET http://a.test/x HTTP/1.1\nHost: a.test\n\(extra)\n\n") }
        XCTAssertEqual(CacheRules.reuse(request: get, fields: fresh, lifetime: 100, age: 10), .fresh)
        XCTAssertEqual(CacheRules.reuse(request: get, fields: fresh, lifetime: 100, age: 100), .revalidate(byClient: false))
        XCTAssertEqual(CacheRules.reuse(request: r("Cache-Control: no-cache"), fields: fresh, lifetime: 100, age: 1), .revalidate(byClient: true))
        XCTAssertEqual(CacheRules.reuse(request: r("Pragma: no-cache"), fields: fresh, lifetime: 100, age: 1), .revalidate(byClient: true))
        XCTAssertEqual(CacheRules.reuse(request: r("Cache-Control: max-age=5"), fields: fresh, lifetime: 100, age: 10), .revalidate(byClient: true))
        XCTAssertEqual(CacheRules.reuse(request: r("Cache-Control: min-fresh=95"), fields: fresh, lifetime: 100, age: 10), .revalidate(byClient: false))
        XCTAssertEqual(CacheRules.reuse(request: r("Cache-Control: max-stale=50"), fields: fresh, lifetime: 100, age: 140), .fresh)
        XCTAssertEqual(CacheRules.reuse(request: r("Cache-Control: max-stale=10"), fields: fresh, lifetime: 100, age: 140), .revalidate(byClient: false))
        XCTAssertEqual(CacheRules.reuse(request: r("Cache-Control: max-stale"), fields: f([("Cache-Control", "max-age=1, must-revalidate")]),
                                        lifetime: 1, age: 140), .revalidate(byClient: false))
        XCTAssertEqual(CacheRules.reuse(request: get, fields: f([("Cache-Control", "no-cache, max-age=100")]), lifetime: 100, age: 1),
                       .revalidate(byClient: false))
    }

    func testUpdateOn304() {
        let stored = f([("Content-Type", "text/plain"), ("ETag", "\"1\""), ("Cache-Control", "max-age=0")])
        let updated = CacheRules.update(stored, with: f([("ETag", "\"2\""), ("Cache-Control", "max-age=60"), ("Content-Length", "0")]))
        XCTAssertEqual(CacheRules.field(updated, "etag"), "\"2\"")
        XCTAssertEqual(CacheRules.field(updated, "cache-control"), "max-age=60")
        XCTAssertEqual(CacheRules.field(updated, "content-type"), "text/plain")
        XCTAssertNil(CacheRules.field(updated, "content-length"))
    }

    func testRanges() {
        func r(_ range: String, _ ifRange: String? = nil) -> RequestHead {
            head("GET http://a.test/x HTTP/1.1\nHost: a.test\nRange: \(range)\n\(ifRange.map { "If-Range: \($0)\n" } ?? "")\n")
        }
        let fields = f([("ETag", "\"e\""), ("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT")])
        XCTAssertEqual(CacheRules.range(request: r("bytes=0-9"), fields: fields, length: 100), .part(first: 0, last: 9))
        XCTAssertEqual(CacheRules.range(request: r("bytes=90-"), fields: fields, length: 100), .part(first: 90, last: 99))
        XCTAssertEqual(CacheRules.range(request: r("bytes=-10"), fields: fields, length: 100), .part(first: 90, last: 99))
        XCTAssertEqual(CacheRules.range(request: r("bytes=50-500"), fields: fields, length: 100), .part(first: 50, last: 99))
        XCTAssertEqual(CacheRules.range(request: r("bytes=100-"), fields: fields, length: 100), .unsatisfiable)
        XCTAssertEqual(CacheRules.range(request: r("bytes=0-1,5-6"), fields: fields, length: 100), .whole)
        XCTAssertEqual(CacheRules.range(request: r("bytes=9-2"), fields: fields, length: 100), .whole)
        XCTAssertEqual(CacheRules.range(request: r("items=0-1"), fields: fields, length: 100), .whole)
        XCTAssertEqual(CacheRules.range(request: r("bytes=0-9", "\"e\""), fields: fields, length: 100), .part(first: 0, last: 9))
        XCTAssertEqual(CacheRules.range(request: r("bytes=0-9", "\"other\""), fields: fields, length: 100), .whole)
        XCTAssertEqual(CacheRules.range(request: r("bytes=0-9", "Sun, 06 Nov 1994 08:49:37 GMT"), fields: fields, length: 100),
                       .part(first: 0, last: 9))
        XCTAssertEqual(CacheRules.range(request: r("bytes=0-9", "Mon, 07 Nov 1994 08:49:37 GMT"), fields: fields, length: 100), .whole)
    }

    func testConditionals() {
        let fields = f([("ETag", "W/\"e\""), ("Last-Modified", HTTPDate.format(1000))])
        XCTAssertTrue(CacheRules.notModified(request: head("GET http://a.test/ HTTP/1.1\nHost: a.test\nIf-None-Match: \"e\"\n\n"), fields: fields))
        XCTAssertFalse(CacheRules.notModified(request: head("GET http://a.test/ HTTP/1.1\nHost: a.test\nIf-None-Match: \"x\"\n\n"), fields: fields))
        XCTAssertTrue(CacheRules.notModified(request: head("GET http://a.test/ HTTP/1.1\nHost: a.test\nIf-Modified-Since: \(HTTPDate.format(1000))\n\n"), fields: fields))
        XCTAssertFalse(CacheRules.notModified(request: head("GET http://a.test/ HTTP/1.1\nHost: a.test\nIf-Modified-Since: \(HTTPDate.format(999))\n\n"), fields: fields))
    }

    func testKeysAndVary() {
        XCTAssertEqual(CacheKey.of(url: "HTTP://Example.COM:80/a?b"), "http://example.com/a?b")
        XCTAssertEqual(CacheKey.of(url: "https://example.com:8443"), "https://example.com:8443/")
        XCTAssertEqual(CacheKey.resolve("/other", against: "http://a.test:81/x"), "http://a.test:81/other")
        XCTAssertEqual(CacheKey.resolve("http://a.test:81/y", against: "http://a.test:81/x"), "http://a.test:81/y")
        XCTAssertNil(CacheKey.resolve("http://b.test/y", against: "http://a.test/x"))
        let names = CacheRules.varyNames(f([("Vary", "Accept-Encoding, accept-language")]))
        XCTAssertEqual(names, ["accept-encoding", "accept-language"])
        let a = head("GET http://a.test/ HTTP/1.1\nHost: a.test\nAccept-Encoding: gzip,  br\n\n")
        let b = head("GET http://a.test/ HTTP/1.1\nHost: a.test\nAccept-Encoding: gzip, br\n\n")
        let c = head("GET http://a.test/ HTTP/1.1\nHost: a.test\nAccept-Encoding: identity\n\n")
        XCTAssertEqual(CacheRules.varyValues(names, of: a), CacheRules.varyValues(names, of: b))
        XCTAssertNotEqual(CacheRules.varyValues(names, of: a), CacheRules.varyValues(names, of: c))
    }
}

final class CacheStoreTests: XCTestCase {
    var dir = ""

    override func setUp() {
        var t = Array("/tmp/swproxy-store-XXXXXX".utf8CString)
        dir = t.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() { _ = system("rm -rf '\(dir)'") }

    /// Writes an entry the way a fill does and commits it.
    func put(_ store: CacheStore, _ key: String, body: Int, fields: [HeaderField] = [HeaderField("Cache-Control", "max-age=60")]) {
        let (path, fd) = store.temporaryFile()!
        let pre = EntryFormat.preamble(key: key, requestTime: 1, responseTime: 2, varyNames: [], status: 200, reason: "OK", fields: fields)
        XCTAssertTrue(CacheStore.writeAll(fd, pre + [UInt8](repeating: 65, count: body)))
        close(fd)
        XCTAssertTrue(store.commit(temporary: path, name: CacheStore.name(key: key, variant: "")))
    }

    func testEntryNamesAreFNV1aHashesInHex() {
        // The names of the files already on disk: a store written by an earlier build is read by this one.
        XCTAssertEqual(CacheKey.hash(""), "cbf29ce484222325")
        XCTAssertEqual(CacheKey.hash("a"), "af63dc4c8601ec8c")
        XCTAssertEqual(CacheKey.hash("foobar"), "85944171f73967e8")
        XCTAssertEqual(CacheStore.name(key: "a", variant: ""), "af63dc4c8601ec8c.cbf29ce484222325")
    }

    func testEntriesSurviveARestartAndLeftoversGo() throws {
        let store = try CacheStore(directory: dir, capacity: 1 << 20, maxObject: 1 << 20)
        put(store, "http://a.test/1", body: 1000)
        // A fill cut by a crash: its temporary file.
        let (_, fd) = store.temporaryFile()!
        close(fd)
        let again = try CacheStore(directory: dir, capacity: 1 << 20, maxObject: 1 << 20)
        XCTAssertEqual(again.stats.entries, 1)
        XCTAssertEqual(CacheStore.removeAll(in: dir + "/tmp"), 0)
        let (e, _) = again.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n"))
        XCTAssertEqual(e?.bodyLength, 1000)
        XCTAssertEqual(e?.status, 200)
        XCTAssertEqual(e.map { CacheRules.field($0.fields, "cache-control") }, "max-age=60")
    }

    func testEvictionKeepsTheSizeLeastRecentlyUsedFirst() throws {
        let store = try CacheStore(directory: dir, capacity: 3000, maxObject: 3000)
        put(store, "http://a.test/1", body: 1000)
        put(store, "http://a.test/2", body: 1000)
        _ = store.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n"))  // 1 is used again
        put(store, "http://a.test/3", body: 1000)
        XCTAssertLessThanOrEqual(store.stats.bytes, 3000)
        XCTAssertEqual(store.stats.evictions, 1)
        XCTAssertNotNil(store.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n")).entry)
        XCTAssertNil(store.lookup(key: "http://a.test/2", request: head("GET http://a.test/2 HTTP/1.1\nHost: a.test\n\n")).entry)
        // A smaller size at the next start evicts down to it.
        let smaller = try CacheStore(directory: dir, capacity: 1500, maxObject: 1000)
        XCTAssertEqual(smaller.stats.entries, 1)
    }

    func testPurgeFromOutsideIsSeenAtOnce() throws {
        let store = try CacheStore(directory: dir, capacity: 1 << 20, maxObject: 1 << 20)
        put(store, "http://a.test/1", body: 10)
        // Read once: the entry is now held open and parsed (hot).
        XCTAssertEqual(store.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n")).entry?.body?.count, 10)
        XCTAssertEqual(CacheStore.purge(dir, key: "http://a.test/1"), 1)
        XCTAssertNil(store.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n")).entry)
        XCTAssertEqual(store.stats.entries, 0)
    }

    func testAHotEntryIsCheckedOnlyAfterAnotherProcessRemovesFiles() throws {
        let store = try CacheStore(directory: dir, capacity: 1 << 20, maxObject: 1 << 20)
        let other = try CacheStore(directory: dir, capacity: 1 << 20, maxObject: 1 << 20)  // a second process
        put(store, "http://a.test/1", body: 10)
        put(store, "http://a.test/2", body: 10)
        let get1 = head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n")
        XCTAssertNotNil(store.lookup(key: "http://a.test/1", request: get1).entry)
        let checks = store.linkChecks
        for _ in 0..<5 { XCTAssertNotNil(store.lookup(key: "http://a.test/1", request: get1).entry) }
        // At most one check, should the second have turned between lookups; not one per hit.
        XCTAssertLessThanOrEqual(store.linkChecks - checks, 1)
        // The other process invalidates the entry: this one checks its open copy and finds it gone.
        XCTAssertEqual(other.invalidate(key: "http://a.test/1"), 1)
        XCTAssertNil(store.lookup(key: "http://a.test/1", request: get1).entry)
        // A file removed without telling anyone (rm): noticed once the second has turned.
        let get2 = head("GET http://a.test/2 HTTP/1.1\nHost: a.test\n\n")
        let e = try XCTUnwrap(store.lookup(key: "http://a.test/2", request: get2).entry)
        XCTAssertEqual(unlink("\(dir)/entries/\(e.name.prefix(2))/\(e.name)"), 0)
        usleep(1_100_000)
        XCTAssertNil(store.lookup(key: "http://a.test/2", request: get2).entry)
    }

    func testRefreshKeepsTheBody() throws {
        let store = try CacheStore(directory: dir, capacity: 1 << 20, maxObject: 1 << 20)
        put(store, "http://a.test/1", body: 100_000)
        let e = store.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n")).entry!
        XCTAssertTrue(store.refresh(e, fields: [HeaderField("Cache-Control", "max-age=999")], requestTime: 5, responseTime: 6))
        let f = store.open(name: e.name)!
        XCTAssertEqual(f.bodyLength, 100_000)
        XCTAssertEqual(f.responseTime, 6)
        XCTAssertEqual(CacheRules.field(f.fields, "cache-control"), "max-age=999")
        // The hot copy of the old file is not served after the refresh replaced it.
        XCTAssertEqual(store.lookup(key: "http://a.test/1", request: head("GET http://a.test/1 HTTP/1.1\nHost: a.test\n\n")).entry?.responseTime, 6)
    }
}
