import Glibc
import XCTest

@testable import SwproxyLoop

final class EventLoopTests: XCTestCase {
    var loop: EventLoop!

    override func setUp() {
        loop = try! EventLoop()
    }

    override func tearDown() {
        loop.close()
    }

    func testReadableEventOnSocketPair() throws {
        let (a, b) = try Socket.pair()
        defer { Socket.close(a); Socket.close(b) }
        var got: [UInt8] = []
        let id = try loop.register(fd: b, interest: .readable) { events in
            XCTAssertTrue(events.contains(.readable))
            var buf = [UInt8](repeating: 0, count: 16)
            let r = try! buf.withUnsafeMutableBytes { try Socket.read(b, into: $0) }
            if case .bytes(let n) = r { got += buf[0..<n] }
        }
        _ = try [UInt8]("ping".utf8).withUnsafeBytes { try Socket.write(a, $0) }
        loop.turn(maxWaitMilliseconds: 1000)
        XCTAssertEqual(String(decoding: got, as: UTF8.self), "ping")
        loop.unregister(id)
    }

    func testEOFIsReported() throws {
        let (a, b) = try Socket.pair()
        defer { Socket.close(b) }
        var result: IOResult?
        let id = try loop.register(fd: b, interest: .readable) { _ in
            var buf = [UInt8](repeating: 0, count: 16)
            result = try! buf.withUnsafeMutableBytes { try Socket.read(b, into: $0) }
        }
        Socket.close(a)
        loop.turn(maxWaitMilliseconds: 1000)
        XCTAssertEqual(result, .eof)
        loop.unregister(id)
    }

    func testWouldBlockOnEmptyRead() throws {
        let (a, b) = try Socket.pair()
        defer { Socket.close(a); Socket.close(b) }
        var buf = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(try buf.withUnsafeMutableBytes { try Socket.read(b, into: $0) }, .wouldBlock)
    }

    /// An event collected for a descriptor that an earlier handler in the same batch closed, and whose number
    /// was then reused by a new registration, must not reach the new handler.
    func testNoEventForClosedAndReusedDescriptor() throws {
        let (a1, b1) = try Socket.pair()
        let (a2, b2) = try Socket.pair()
        defer { Socket.close(a1); Socket.close(a2) }
        // Both become readable before the turn, so both events come back from one epoll_wait.
        _ = try [UInt8]("x".utf8).withUnsafeBytes { try Socket.write(a1, $0) }
        _ = try [UInt8]("y".utf8).withUnsafeBytes { try Socket.write(a2, $0) }
        var ids: [Int32: RegistrationID] = [:]
        var handled: [Int32] = []
        var staleDelivered = false
        var replacement: (fd: Int32, id: RegistrationID)?
        var spare: Int32 = -1
        for fd in [b1, b2] {
            ids[fd] = try loop.register(fd: fd, interest: .readable) { [self] _ in
                handled.append(fd)
                guard replacement == nil else { return }
                // First handler of the batch: close the other descriptor and put a new socket at its number.
                let other = fd == b1 ? b2 : b1
                let (c, d) = try! Socket.pair()
                loop.unregister(ids[other]!)
                Socket.close(other)
                XCTAssertEqual(dup2(d, other), other)
                Socket.close(d)
                spare = c
                let id = try! loop.register(fd: other, interest: .readable) { _ in staleDelivered = true }
                replacement = (other, id)
            }
        }
        loop.turn(maxWaitMilliseconds: 1000)
        XCTAssertEqual(handled.count, 1, "the closed descriptor's queued event ran its old handler")
        XCTAssertFalse(staleDelivered, "a stale event reached the handler of a reused descriptor number")
        let first = handled[0]
        loop.unregister(ids[first]!)
        Socket.close(first)
        if let r = replacement {
            loop.unregister(r.id)
            Socket.close(r.fd)
        }
        Socket.close(spare)
    }

    func testTimersFireInDeadlineOrderAndCancelled() {
        var fired: [Int] = []
        let base = loop.now
        loop.schedule(at: base + 30_000_000) { fired.append(3) }
        loop.schedule(at: base + 10_000_000) { fired.append(1) }
        let cancelled = loop.schedule(at: base + 20_000_000) { fired.append(2) }
        loop.cancel(cancelled)
        loop.schedule(at: base + 40_000_000) { [self] in
            fired.append(4)
            loop.stop()
        }
        loop.run()
        XCTAssertEqual(fired, [1, 3, 4])
        XCTAssertGreaterThanOrEqual(loop.now - base, 40_000_000)
    }

    func testTimerScheduledFromTimerRunsNextTurn() {
        var order: [String] = []
        loop.schedule(after: 0) { [self] in
            order.append("a")
            loop.schedule(after: 0) { [self] in
                order.append("b")
                loop.stop()
            }
        }
        loop.turn(maxWaitMilliseconds: 100)
        XCTAssertEqual(order, ["a"])
        loop.run()
        XCTAssertEqual(order, ["a", "b"])
    }

    func testManyCancelledTimersDoNotAccumulate() {
        var q = TimerQueue()
        var last: TimerID?
        for i in 0..<10_000 {
            if let l = last { q.cancel(l) }
            last = q.schedule(at: UInt64(i)) {}
        }
        XCTAssertEqual(q.count, 1)
        XCTAssertEqual(q.earliestDeadline, 9_999)
    }

    func testExecuteFromAnotherThreadWakesTheLoop() {
        let handle = loop.handle
        var ran = false
        let marker = Box()
        let t = Thread {
            usleep(20_000)
            handle.execute { marker.set() }
            handle.stop()
        }
        t.start()
        loop.run()
        ran = marker.value
        XCTAssertTrue(ran)
        t.join()
    }

    func testDeferredWorkRunsOnNextTurn() {
        var n = 0
        loop.deferToNextTurn { n += 1 }
        loop.turn(maxWaitMilliseconds: 0)
        XCTAssertEqual(n, 1)
    }
}

final class Box: @unchecked Sendable {
    private(set) var value = false
    func set() { value = true }
}

/// A minimal pthread wrapper for tests (no Foundation).
final class Thread: @unchecked Sendable {
    private var tid = pthread_t()
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    func start() {
        let ctx = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&tid, nil, { p in
            let t = Unmanaged<Thread>.fromOpaque(p!).takeRetainedValue()
            t.body()
            return nil
        }, ctx)
    }
    func join() { pthread_join(tid, nil) }
}
