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
}
