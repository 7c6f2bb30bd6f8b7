import Glibc
import XCTest

@testable import SwproxyCurl
@testable import SwproxyLoop

/// A tiny HTTP/1.1 server on the test's own loop: answers every request for `/N` with N bytes of 'a'+i%26,
/// keep-alive. Enough to drive libcurl through the multi driver without another process.
final class LoopServer {
    let loop: EventLoop
    let fd: Int32
    let port: UInt16
    private var listenID: RegistrationID!
    private var conns: [Int32: (RegistrationID, [UInt8])] = [:]
    var requestsSeen = 0

    init(loop: EventLoop) throws {
        self.loop = loop
        let (fd, addr) = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0")!)
        self.fd = fd
        port = addr.port
        listenID = try loop.register(fd: fd, interest: .readable) { [unowned self] _ in self.acceptAll() }
    }

    static func body(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(97 + $0 % 26) } }

    private func acceptAll() {
        while case .accepted(let c, _) = try! Socket.accept(fd) {
            let id = try! loop.register(fd: c, interest: .readable) { [unowned self] _ in self.readable(c) }
            conns[c] = (id, [])
        }
    }

    private func readable(_ c: Int32) {
        var buf = [UInt8](repeating: 0, count: 4096)
        let r = try? buf.withUnsafeMutableBytes { try Socket.read(c, into: $0) }
        guard case .bytes(let n) = r else {
            if r == .wouldBlock { return }
            loop.unregister(conns[c]!.0)
            conns.removeValue(forKey: c)
            Socket.close(c)
            return
        }
        conns[c]!.1 += buf[0..<n]
        while let end = find(conns[c]!.1) {
            let head = String(decoding: conns[c]!.1[0..<end], as: UTF8.self)
            conns[c]!.1.removeFirst(end + 4)
            requestsSeen += 1
            let path = head.split(separator: " ")[1]
            let size = Int(path.dropFirst()) ?? 0
            let body = LoopServer.body(size)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + body
            try! Socket.writeAll(c, response)
        }
    }

    private func find(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
            return i
        }
        return nil
    }

    func close() {
        for (c, (id, _)) in conns {
            loop.unregister(id)
            Socket.close(c)
        }
        loop.unregister(listenID)
        Socket.close(fd)
    }
}

final class Collector: TransferDelegate {
    var bodies: [Int: [UInt8]] = [:]
    var codes: [Int: CurlCode] = [:]
    var pauseFirst = false
    var pausedOnce: Set<Int> = []
    var onDone: (() -> Void)?
    let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
        if pauseFirst && !pausedOnce.contains(t.tag) {
            pausedOnce.insert(t.tag)
            // Resume later from the loop, outside libcurl: the held data is re-delivered then.
            loop.schedule(after: 0.02) { t.resumeReceive() }
            return .pause
        }
        bodies[t.tag, default: []] += bytes
        return .accepted
    }

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        codes[t.tag] = code
        t.easy.close()
        onDone?()
    }
}

final class MultiDriverTests: XCTestCase {
    func run(count: Int, size: Int, pause: Bool) throws {
        let loop = try EventLoop()
        let server = try LoopServer(loop: loop)
        let driver = MultiDriver(loop: loop)
        let c = Collector(loop: loop)
        c.pauseFirst = pause
        var transfers: [Transfer] = []
        c.onDone = { if c.codes.count == count { loop.stop() } }
        for i in 0..<count {
            let easy = EasyHandle()
            easy.set(.url, "http://127.0.0.1:\(server.port)/\(size + i)")
            let t = Transfer(easy: easy, delegate: c)
            t.tag = i
            transfers.append(t)
            XCTAssertEqual(driver.add(t), .ok)
        }
        loop.schedule(after: 20) { loop.stop() }  // a safety net, not a timing assertion
        loop.run()
        XCTAssertEqual(c.codes.count, count)
        for i in 0..<count {
            XCTAssertEqual(c.codes[i], .ok)
            XCTAssertEqual(c.bodies[i, default: []], LoopServer.body(size + i), "body \(i)")
        }
        XCTAssertEqual(driver.activeCount, 0)
        driver.close()
        server.close()
        XCTAssertEqual(loop.registrationCount, 0, "sockets left registered")
        loop.close()
    }

    /// epoll may report a reset as `EPOLLERR` alone, before the socket is closed (no `EPOLLHUP` yet); a
    /// socket libcurl reads from must then be handed over as readable, or libcurl fails the transfer with 55
    /// ("select/poll returned error") where curl reports the reset as 56.
    func testErrorOnASocketReadFromIsARead() {
        let inBit: Int32 = 1, outBit: Int32 = 2, errBit: Int32 = 4  // CURL_CSELECT_IN, _OUT, _ERR (curl/multi.h)
        XCTAssertEqual(MultiDriver.selectBits(.error, interest: .readable), inBit)
        XCTAssertEqual(MultiDriver.selectBits([.error, .hangup], interest: .readable), inBit)
        XCTAssertEqual(MultiDriver.selectBits([.readable, .error], interest: .readable), inBit)
        XCTAssertEqual(MultiDriver.selectBits(.error, interest: [.readable, .writable]), inBit | errBit)
        XCTAssertEqual(MultiDriver.selectBits(.error, interest: .writable), errBit)
        XCTAssertEqual(MultiDriver.selectBits([.error, .hangup], interest: .writable), inBit | errBit)
        XCTAssertEqual(MultiDriver.selectBits(.readable, interest: .readable), inBit)
        XCTAssertEqual(MultiDriver.selectBits(.writable, interest: .writable), outBit)
        XCTAssertEqual(MultiDriver.selectBits(.hangup, interest: .readable), inBit)
        XCTAssertEqual(MultiDriver.selectBits(.error, interest: []), inBit)
    }

    func testManyConcurrentTransfers() throws {
        try run(count: 40, size: 1000, pause: false)
    }

    func testPauseAndResumeDeliversEverything() throws {
        try run(count: 5, size: 300_000, pause: true)
    }

    func testRefusedConnectionCompletesWithCouldntConnect() throws {
        let loop = try EventLoop()
        let driver = MultiDriver(loop: loop)
        let c = Collector(loop: loop)
        c.onDone = { loop.stop() }
        // Bind a port and close it again: nothing listens there.
        let (fd, addr) = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0")!)
        Socket.close(fd)
        let easy = EasyHandle()
        easy.set(.url, "http://127.0.0.1:\(addr.port)/")
        let t = Transfer(easy: easy, delegate: c)
        driver.add(t)
        loop.run()
        XCTAssertEqual(c.codes[0], .couldntConnect)
        driver.close()
        loop.close()
    }

    /// A transfer removed while its connection is being made: libcurl 7.88 closes that socket without a
    /// `CURL_POLL_REMOVE` and without the close-socket callback. The next connection gets the same descriptor
    /// number and must still be watched: before the fix, the stale registration's `modify` (same interest,
    /// so no `epoll_ctl` at all) left it out of epoll, and the transfer hung.
    func testCancelWhileConnectingLeavesNoStaleRegistration() throws {
        let loop = try EventLoop()
        let server = try LoopServer(loop: loop)
        let driver = MultiDriver(loop: loop)
        let c = Collector(loop: loop)
        c.onDone = { loop.stop() }
        // The first connects to a listener nobody accepts on (the handshake completes in the kernel, and no
        // accepted socket takes the number the cancelled one frees).
        let (quiet, quietAddr) = try Socket.listen(on: SocketAddress(parsing: "127.0.0.1:0")!)
        defer { Socket.close(quiet) }
        let first = EasyHandle()
        first.set(.url, "http://127.0.0.1:\(quietAddr.port)/10")
        let t1 = Transfer(easy: first, delegate: c)
        t1.tag = 1
        driver.add(t1)
        // Turn until libcurl watches the connecting socket (its writable event comes on a later turn).
        var turns = 0
        while loop.registrationCount < 2 && turns < 100 {
            loop.turn(maxWaitMilliseconds: 10)
            turns += 1
        }
        XCTAssertEqual(loop.registrationCount, 2, "the first transfer's socket is watched")
        driver.cancel(t1)
        let second = EasyHandle()
        second.set(.url, "http://127.0.0.1:\(server.port)/20")
        let t2 = Transfer(easy: second, delegate: c)
        t2.tag = 2
        driver.add(t2)
        loop.schedule(after: 5) { loop.stop() }  // a safety net, not a timing assertion
        loop.run()
        if c.codes[2] == nil { driver.cancel(t2) }  // it hung: let its handle go before the checks fail
        XCTAssertEqual(c.codes[2], .ok, "the second transfer completes")
        XCTAssertEqual(c.bodies[2, default: []], LoopServer.body(20))
        XCTAssertNil(c.codes[1], "a cancelled transfer reports nothing")
        driver.close()
        server.close()
        loop.close()
    }

    func testCloseWithTransfersInFlight() throws {
        let loop = try EventLoop()
        let server = try LoopServer(loop: loop)
        let driver = MultiDriver(loop: loop)
        let c = Collector(loop: loop)
        let easy = EasyHandle()
        easy.set(.url, "http://127.0.0.1:\(server.port)/100")
        let t = Transfer(easy: easy, delegate: c)
        driver.add(t)
        loop.turn(maxWaitMilliseconds: 10)
        driver.close()
        XCTAssertTrue(c.codes.isEmpty)
        easy.close()
        server.close()
        XCTAssertEqual(loop.registrationCount, 0)
        loop.close()
    }
}
