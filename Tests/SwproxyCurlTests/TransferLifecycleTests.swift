import Glibc
import XCTest

@testable import SwproxyCurl
@testable import SwproxyLoop

/// The owner of a transfer lets go of it from every place libcurl can call it from. Each case is one way the
/// abort crash (a client vanishing mid-download) could reach libcurl with a handle it no longer has; under
/// AddressSanitizer (`make asan`) a handle freed too early is a use-after-free report, not luck.
final class TransferLifecycleTests: XCTestCase {
    /// What the owner does when libcurl re-delivers a paused body from inside `curl_easy_pause`.
    enum Reaction { case cancel, cancelAndPause, cancelOther }

    final class Owner: TransferDelegate {
        let loop: EventLoop
        let driver: MultiDriver
        var reaction = Reaction.cancel
        var deliveries = 0
        var resumed = false
        var completed: [CurlCode] = []
        var other: Transfer?
        var phaseInsideCallback: EasyHandle.Phase?

        init(loop: EventLoop, driver: MultiDriver) {
            self.loop = loop
            self.driver = driver
        }

        func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
            deliveries += 1
            if !resumed {
                if deliveries == 1 {
                    // Resume from the loop, outside any libcurl call: the held data comes back inside
                    // curl_easy_pause, as when a client's buffer drains.
                    loop.schedule(after: 0.01) { [self] in
                        resumed = true
                        t.resumeReceive()
                        loop.schedule(after: 0.05) { [loop] in loop.stop() }
                    }
                }
                return .pause
            }
            // Inside curl_easy_pause: the client went away.
            switch reaction {
            case .cancel:
                driver.cancel(t)
                phaseInsideCallback = t.easy.phase
                return .accepted
            case .cancelAndPause:
                driver.cancel(t)
                phaseInsideCallback = t.easy.phase
                return .pause
            case .cancelOther:
                if let o = other {
                    other = nil
                    driver.cancel(o)
                }
                driver.cancel(t)
                phaseInsideCallback = t.easy.phase
                return .abort
            }
        }

        func transferCompleted(_ t: Transfer, _ code: CurlCode) {
            completed.append(code)
            t.easy.close()
        }
    }

    private func runCancelInsideResume(_ reaction: Reaction) throws {
        let loop = try EventLoop()
        let server = try LoopServer(loop: loop)
        let driver = MultiDriver(loop: loop)
        let owner = Owner(loop: loop, driver: driver)
        owner.reaction = reaction
        let easy = EasyHandle()
        easy.set(.url, "http://127.0.0.1:\(server.port)/2000000")
        let t = Transfer(easy: easy, delegate: owner)
        XCTAssertEqual(driver.add(t), .ok)
        if reaction == .cancelOther {
            let e2 = EasyHandle()
            e2.set(.url, "http://127.0.0.1:\(server.port)/3000000")
            let t2 = Transfer(easy: e2, delegate: owner)
            owner.other = t2
            XCTAssertEqual(driver.add(t2), .ok)
        }
        loop.schedule(after: 10) { loop.stop() }  // a safety net, not a timing assertion
        loop.run()
        XCTAssertTrue(owner.resumed)
        XCTAssertEqual(owner.phaseInsideCallback, .retired, "closed while libcurl still held it")
        XCTAssertEqual(t.easy.phase, .closed)
        XCTAssertTrue(owner.completed.isEmpty, "a cancelled transfer reported completion")
        XCTAssertEqual(driver.activeCount, 0)
        driver.close()
        server.close()
        XCTAssertEqual(loop.registrationCount, 0, "sockets left registered")
        loop.close()
    }

    /// The reported crash: cancel from the body re-delivered inside `curl_easy_pause`.
    func testCancelInsideReDeliveredBody() throws { try runCancelInsideResume(.cancel) }

    func testCancelInsideReDeliveredBodyThenPause() throws { try runCancelInsideResume(.cancelAndPause) }

    func testCancelAnotherTransferInsideReDeliveredBody() throws { try runCancelInsideResume(.cancelOther) }

    /// Cancel from inside `curl_multi_socket_action` (the write callback of a running transfer), then the
    /// same handle's later callbacks reach nobody.
    func testCancelInsideWriteCallbackDefersCleanup() throws {
        final class Quitter: TransferDelegate {
            let driver: MultiDriver
            var calls = 0
            var phase: EasyHandle.Phase?
            init(driver: MultiDriver) { self.driver = driver }
            func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
                calls += 1
                driver.cancel(t)
                phase = t.easy.phase
                return .accepted
            }
            func transferCompleted(_ t: Transfer, _ code: CurlCode) { XCTFail("cancelled transfer completed") }
        }
        let loop = try EventLoop()
        let server = try LoopServer(loop: loop)
        let driver = MultiDriver(loop: loop)
        let q = Quitter(driver: driver)
        let easy = EasyHandle()
        easy.set(.url, "http://127.0.0.1:\(server.port)/1000000")
        let t = Transfer(easy: easy, delegate: q)
        driver.add(t)
        loop.schedule(after: 0.3) { loop.stop() }
        loop.run()
        XCTAssertEqual(q.calls, 1, "callbacks reached the owner after cancel")
        XCTAssertEqual(q.phase, .retired)
        XCTAssertEqual(easy.phase, .closed)
        driver.close()
        server.close()
        loop.close()
    }

    /// A finished handle handed back to a pool from inside the completion loop is reset only after libcurl
    /// returned, and comes out of the pool configured.
    func testRecycleFromCompletionGoesThroughThePool() throws {
        final class Recycler: TransferDelegate {
            let driver: MultiDriver
            let pool: EasyHandlePool
            var phaseInCompletion: EasyHandle.Phase?
            var phaseAfterRecycle: EasyHandle.Phase?
            var onDone: (() -> Void)?
            init(driver: MultiDriver, pool: EasyHandlePool) {
                self.driver = driver
                self.pool = pool
            }
            func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition { .accepted }
            func transferCompleted(_ t: Transfer, _ code: CurlCode) {
                phaseInCompletion = t.easy.phase
                driver.recycle(t, into: pool)
                phaseAfterRecycle = t.easy.phase
                onDone?()
            }
        }
        let loop = try EventLoop()
        let server = try LoopServer(loop: loop)
        let driver = MultiDriver(loop: loop)
        let pool = EasyHandlePool(capacity: 2)
        let r = Recycler(driver: driver, pool: pool)
        r.onDone = { loop.stop() }
        let easy = EasyHandle.make(from: pool)
        easy.set(.url, "http://127.0.0.1:\(server.port)/100")
        driver.add(Transfer(easy: easy, delegate: r))
        loop.schedule(after: 10) { loop.stop() }
        loop.run()
        XCTAssertEqual(r.phaseInCompletion, .completing)
        XCTAssertEqual(r.phaseAfterRecycle, .retired, "reset while still inside libcurl's completion loop")
        XCTAssertEqual(easy.phase, .pooled)
        let again = EasyHandle.make(from: pool)
        XCTAssertTrue(again === easy)
        XCTAssertEqual(again.phase, .configured)
        again.close()
        pool.close()
        driver.close()
        server.close()
        loop.close()
    }
}
