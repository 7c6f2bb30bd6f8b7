import XCTest

@testable import SwproxyServe

/// The connection's states, events and actions, driven with a manual clock (nanoseconds).
final class ConnectionMachineTests: XCTestCase {
    typealias M = ConnectionMachine
    let t = M.Timeouts(header: 10_000, idle: 60_000, linger: 2_000)

    func machine(at now: UInt64 = 0, proxyProtocol: Bool = false) -> M {
        M(now: now, proxyProtocol: proxyProtocol, timeouts: t)
    }

    func testAcceptArmsTheHeaderTimeout() {
        let m = machine(at: 100)
        XCTAssertEqual(m.state, .readingHead(since: nil))
        XCTAssertEqual(m.deadline, .header(10_100))
        XCTAssertTrue(m.isBetweenRequests)
        XCTAssertEqual(machine(proxyProtocol: true).state, .awaitingProxyHeader)
    }

    func testAWholeHeadDispatchesAndClearsTheDeadline() {
        var m = machine()
        XCTAssertEqual(m.inputArrived(buffered: 80, eof: false), .parseHead)
        XCTAssertEqual(m.headParsed(), .dispatch)
        XCTAssertEqual(m.deadline, .none)
        m.jobStarted(tunnel: false)
        XCTAssertEqual(m.state, .exchanging)
        XCTAssertEqual(m.inputArrived(buffered: 10, eof: false), .deliverInput)
        XCTAssertEqual(m.outputDrained(now: 5), .deliverDrained)
    }

    /// The first head's clock runs from accept: a client that waits before its first byte gets no second
    /// header timeout.
    func testFirstHeadTimesOutFromAccept() {
        var m = machine(at: 0)
        XCTAssertEqual(m.inputArrived(buffered: 3, eof: false), .parseHead)
        XCTAssertEqual(m.headIncomplete(now: 9_000, eof: false), .none)  // the accept-time timer still runs
        XCTAssertEqual(m.state, .readingHead(since: 9_000))
        XCTAssertEqual(m.deadlinePassed(now: 9_999, buffered: 3), .arm(10_000))
        XCTAssertEqual(m.deadlinePassed(now: 10_000, buffered: 3), .answerHeaderTimeout)
        XCTAssertEqual(m.closeAfterFlush(now: 10_000, outputEmpty: false), .stopReading)
        XCTAssertEqual(m.state, .closingAfterFlush)
        XCTAssertEqual(m.outputDrained(now: 10_500), .linger(until: 12_500))
        XCTAssertEqual(m.state, .lingering)
        XCTAssertEqual(m.inputArrived(buffered: 0, eof: false), .discard)
        XCTAssertEqual(m.deadlinePassed(now: 12_499, buffered: 0), .arm(12_500))
        XCTAssertEqual(m.deadlinePassed(now: 12_500, buffered: 0), .close)
        m.closed()
        XCTAssertTrue(m.isClosed)
        XCTAssertEqual(m.deadlinePassed(now: 99_999, buffered: 0), .none)
    }

    /// A connection that never sent a byte is closed without an answer at the header timeout.
    func testSilentConnectionClosesQuietly() {
        var m = machine()
        XCTAssertEqual(m.deadlinePassed(now: 10_000, buffered: 0), .close)
        var p = machine(proxyProtocol: true)
        XCTAssertEqual(p.deadlinePassed(now: 10_000, buffered: 0), .close)
    }

    /// Keep-alive: the idle timer between requests, then the header timeout from the next head's first
    /// byte (not from the end of the last response).
    func testIdleThenTheNextHeadsOwnHeaderTimeout() {
        var m = machine()
        _ = m.headParsed()
        m.jobStarted(tunnel: false)
        XCTAssertEqual(m.setJobDeadline(70_000), .arm(70_000))
        XCTAssertEqual(m.jobFinished(now: 1_000, keepAlive: true, draining: false, buffered: 0, eof: false,
                                     outputEmpty: true), .awaitRequest(idleUntil: 61_000))
        XCTAssertEqual(m.deadline, .idle(61_000))
        XCTAssertEqual(m.inputArrived(buffered: 5, eof: false), .parseHead)
        XCTAssertEqual(m.headIncomplete(now: 30_000, eof: false), .arm(40_000))
        XCTAssertEqual(m.headIncomplete(now: 35_000, eof: false), .none)  // the clock keeps its start
        XCTAssertEqual(m.deadlinePassed(now: 40_000, buffered: 5), .answerHeaderTimeout)
    }

    func testIdleKeepAliveConnectionClosesAtTheIdleTimeout() {
        var m = machine()
        _ = m.headParsed()
        m.jobStarted(tunnel: false)
        _ = m.jobFinished(now: 1_000, keepAlive: true, draining: false, buffered: 0, eof: false, outputEmpty: true)
        XCTAssertEqual(m.deadlinePassed(now: 60_999, buffered: 0), .arm(61_000))
        XCTAssertEqual(m.deadlinePassed(now: 61_000, buffered: 0), .close)
    }

    func testPipelinedRequestIsParsedAtOnce() {
        var m = machine()
        _ = m.headParsed()
        m.jobStarted(tunnel: false)
        XCTAssertEqual(m.jobFinished(now: 1, keepAlive: true, draining: false, buffered: 40, eof: false,
                                     outputEmpty: false), .parseNext)
        XCTAssertEqual(m.state, .readingHead(since: nil))
    }

    /// `Connection: close`, a drain, or the client's EOF after a response: close once the answer is out.
    func testResponsesThatEndTheConnection() {
        for (keepAlive, draining, eof) in [(false, false, false), (true, true, false), (true, false, true)] {
            var m = machine()
            _ = m.headParsed()
            m.jobStarted(tunnel: false)
            XCTAssertEqual(m.jobFinished(now: 100, keepAlive: keepAlive, draining: draining, buffered: 0, eof: eof,
                                         outputEmpty: true), .linger(until: 2_100), "\(keepAlive) \(draining) \(eof)")
            XCTAssertEqual(m.deadline, .linger(2_100))
        }
    }

    /// The job's deadline (upstream read, tunnel idle) comes back to the job, only while it runs.
    func testJobDeadline() {
        var m = machine()
        XCTAssertEqual(m.setJobDeadline(500), .none)  // no job yet
        _ = m.headParsed()
        m.jobStarted(tunnel: true)
        XCTAssertEqual(m.state, .tunnelling)
        XCTAssertEqual(m.setJobDeadline(500), .arm(500))
        XCTAssertEqual(m.deadlinePassed(now: 499, buffered: 0), .arm(500))
        XCTAssertEqual(m.deadlinePassed(now: 500, buffered: 0), .jobDeadline)
        XCTAssertEqual(m.deadline, .none)
        _ = m.setJobDeadline(900)
        m.clearJobDeadline()
        XCTAssertEqual(m.deadlinePassed(now: 900, buffered: 0), .none)
        _ = m.setJobDeadline(900)
        _ = m.closeAfterFlush(now: 600, outputEmpty: false)
        XCTAssertEqual(m.deadline, .none, "an ending connection drops the job's deadline")
    }

    func testProxyHeader() {
        var m = machine(proxyProtocol: true)
        XCTAssertEqual(m.inputArrived(buffered: 10, eof: false), .parseProxyHeader)
        XCTAssertEqual(m.proxyHeaderIncomplete(eof: false), .none)
        XCTAssertEqual(m.proxyHeaderIncomplete(eof: true), .close)
        XCTAssertEqual(m.proxyHeaderParsed(buffered: 0), .none)
        XCTAssertEqual(m.state, .readingHead(since: nil))
        var n = machine(proxyProtocol: true)
        XCTAssertEqual(n.proxyHeaderParsed(buffered: 30), .parseHead, "the head that came with the header")
        XCTAssertEqual(n.inputArrived(buffered: 0, eof: true), .close)
    }

    func testPeerClosedMidHead() {
        var m = machine()
        XCTAssertEqual(m.headIncomplete(now: 5, eof: true), .close)
        var n = machine()
        XCTAssertEqual(n.inputArrived(buffered: 0, eof: true), .close)
    }

    /// Nothing moves a closing or closed connection back.
    func testNoWayBack() {
        var m = machine()
        XCTAssertEqual(m.closeAfterFlush(now: 0, outputEmpty: true), .linger(until: 2_000))
        XCTAssertEqual(m.closeAfterFlush(now: 1, outputEmpty: true), .none)
        XCTAssertEqual(m.jobFinished(now: 1, keepAlive: true, draining: false, buffered: 0, eof: false,
                                     outputEmpty: true), .none)
        XCTAssertEqual(m.headParsed(), .none)
        XCTAssertEqual(m.outputDrained(now: 1), .none)
        m.closed()
        XCTAssertEqual(m.inputArrived(buffered: 9, eof: false), .none)
        XCTAssertEqual(m.closeAfterFlush(now: 1, outputEmpty: true), .none)
    }
}

/// A loop's intake and graceful shutdown, with a manual clock.
final class WorkerLifecycleTests: XCTestCase {
    func testPauseAndResume() {
        var w = WorkerLifecycle()
        XCTAssertEqual(w.resume(), .none)
        XCTAssertEqual(w.pause(), .watchListeners(false))
        XCTAssertEqual(w.pause(), .none)
        XCTAssertEqual(w.resume(), .watchListeners(true))
        _ = w.pause()
        XCTAssertEqual(w.drain(now: 0, timeout: 10), .beginDrain(until: 10), "a paused loop drains too")
        XCTAssertEqual(w.resume(), .none, "a draining loop accepts nothing")
    }

    func testDrainEndsWhenTheLastConnectionCloses() {
        var d = WorkerLifecycle()
        XCTAssertEqual(d.connections(0), .none, "serving: no connections is no reason to stop")
        XCTAssertEqual(d.drain(now: 100, timeout: 1_000), .beginDrain(until: 1_100))
        XCTAssertTrue(d.isDraining)
        XCTAssertEqual(d.drain(now: 200, timeout: 1_000), .none)
        XCTAssertEqual(d.connections(2), .none)
        XCTAssertEqual(d.deadlinePassed(now: 1_099), .none)
        XCTAssertEqual(d.connections(0), .stop)
        XCTAssertEqual(d.deadlinePassed(now: 1_100), .none)
    }

    func testDrainTimeoutClosesWhatIsLeft() {
        var d = WorkerLifecycle()
        _ = d.drain(now: 0, timeout: 500)
        XCTAssertEqual(d.deadlinePassed(now: 500), .closeAllAndStop)
        XCTAssertEqual(d.connections(0), .none)
    }
}
