import XCTest

@testable import SwproxyFetch

final class TransferSchedulerTests: XCTestCase {
    func testHostKey() {
        for (url, key) in [("http://User:pw@Example.COM:8080/x?y#z", "example.com:8080"), ("https://h", "h"),
                           ("h/x", "h"), ("http://a@b@c/", "c"), ("http://[::1]:80/p", "[::1]:80"),
                           ("HTTP://H?q=1", "h"), ("http://h#frag", "h")] {
            XCTAssertEqual(TransferScheduler.hostKey(url), key, url)
        }
    }

    func testPerHostLimitDoesNotHoldBackOtherHosts() {
        var s = TransferScheduler(hosts: ["a", "a", "a", "b"], parallelMax: 3, perHost: 1, interval: nil)
        XCTAssertEqual(s.next(now: 0), .start(0))
        XCTAssertEqual(s.next(now: 0), .start(3))  // a's second waits for its host, b goes ahead
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(0)
        XCTAssertEqual(s.next(now: 0), .start(1))
    }

    typealias Item = TransferScheduler.Item

    func testFirstURLToATargetRunsAlone() {
        // a, a, a to one host; b elsewhere: b goes at once, a's second and third wait for its first.
        var s = TransferScheduler(items: [Item(host: "a"), Item(host: "a"), Item(host: "a"), Item(host: "b")],
                                  parallelMax: 10, perHost: nil, interval: nil)
        XCTAssertEqual(s.next(now: 0), .start(0))
        XCTAssertEqual(s.next(now: 0), .start(3))
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(0)
        XCTAssertEqual(s.next(now: 0), .start(1))  // then the rest at once
        XCTAssertEqual(s.next(now: 0), .start(2))
    }

    func testTheProxyIsTheTargetForFirstAlone() {
        // Two hosts through one proxy: one connection to the proxy first, then both may reuse it.
        var s = TransferScheduler(items: [Item(host: "a", target: "proxy p"), Item(host: "b", target: "proxy p")],
                                  parallelMax: 10, perHost: nil, interval: nil)
        XCTAssertEqual(s.next(now: 0), .start(0))
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(0)
        XCTAssertEqual(s.next(now: 0), .start(1))
    }

    func testLanesRunOneAtATimeInOrder() {
        // Lane "x" spans two hosts (cookies of one site); the lane-less URL is not held back.
        let items = [Item(host: "a", lanes: ["x"]), Item(host: "b", lanes: ["x"]), Item(host: "c"),
                     Item(host: "a", lanes: ["x"])]
        var s = TransferScheduler(items: items, parallelMax: 10, perHost: nil, interval: nil)
        XCTAssertEqual(s.next(now: 0), .start(0))
        XCTAssertEqual(s.next(now: 0), .start(2))
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(0)
        XCTAssertEqual(s.next(now: 0), .start(1))
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(1)
        XCTAssertEqual(s.next(now: 0), .start(3))
    }

    func testSeveralLanesAllHaveToBeFree() {
        // Same output file ("f"), different hosts: the second waits although its host lane is free.
        let items = [Item(host: "a", lanes: ["host a", "f"]), Item(host: "b", lanes: ["host b", "f"])]
        var s = TransferScheduler(items: items, parallelMax: 10, perHost: nil, interval: nil)
        XCTAssertEqual(s.next(now: 0), .start(0))
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(0)
        XCTAssertEqual(s.next(now: 0), .start(1))
    }

    func testStepsRunOneAfterAnother() {
        // Step 0: a and b at once; step 1 (c) only when both have finished, even on another host.
        let items = [Item(host: "a", step: 0), Item(host: "b", step: 0), Item(host: "c", step: 1)]
        var s = TransferScheduler(items: items, parallelMax: 10, perHost: nil, interval: nil)
        XCTAssertEqual(s.next(now: 0), .start(0))
        XCTAssertEqual(s.next(now: 0), .start(1))
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(1)
        XCTAssertEqual(s.next(now: 0), .blocked)
        s.finished(0)
        XCTAssertEqual(s.next(now: 0), .start(2))
    }

    func testCookieSite() {
        for (host, site) in [("www.example.com", "example.com"), ("api.example.com:8080", "example.com"),
                             ("example.com", "example.com"), ("localhost:80", "localhost"), ("moo", "moo"),
                             ("127.0.0.1:8990", "127.0.0.1"), ("[::1]:80", "[::1]"), ("a.b.c.d.", "c.d")] {
            XCTAssertEqual(TransferScheduler.cookieSite(host), site, host)
        }
    }
}
