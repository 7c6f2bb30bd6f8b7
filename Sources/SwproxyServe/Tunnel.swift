import Glibc
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// A CONNECT tunnel: libcurl makes the upstream connection (`CURLOPT_CONNECT_ONLY`: its resolver, happy
/// eyeballs and timeouts), then the socket is taken over (duplicated, so removing the easy handle does not
/// close it) and bytes are relayed both ways on this loop with the same watermarks, half-close forwarded
/// with `shutdown(SHUT_WR)`, until both sides are done or the tunnel is idle too long.
/// - SeeAlso: RFC 9110 §9.3.6
final class Tunnel: TransferDelegate {
    unowned let connection: ClientConnection
    let head: RequestHead
    private var transfer: Transfer?
    private var upstreamFD: Int32 = -1
    private var registration: RegistrationID?
    private var toUpstream = ByteBuffer()
    private var upstreamEOF = false
    private var sentUpstreamShutdown = false
    private var sentClientShutdown = false
    private var readingUpstream = true
    private var wantWrite = false
    private var lastActivity: UInt64
    private var idleTimer: TimerID?
    private let started: UInt64
    private var bytesIn: Int64 = 0
    private var bytesOut: Int64 = 0
    private var upstreamAddress: String?
    private var ended = false

    init(connection: ClientConnection, head: RequestHead) {
        self.connection = connection
        self.head = head
        started = connection.worker.loop.now
        lastActivity = started
    }

    var config: ServeConfiguration { connection.config }
    var loop: EventLoop { connection.worker.loop }

    func start() {
        guard case .authority(let host, let port) = head.target else { return }
        let easy = EasyHandle()
        let t = Transfer(easy: easy, delegate: self)
        transfer = t
        if let filter = connection.worker.policy.destinationFilter { t.setAddressFilter(filter) }
        easy.set(.url, "http://\(host):\(port)/")
        easy.set(.connectOnly, true)
        easy.set(.proxy, "")
        easy.set(.connectTimeoutMilliseconds, max(1, Int(config.connectTimeout * 1000)))
        connection.worker.driver.keepAfterCompletion(t)
        if connection.worker.driver.add(t) != .ok {
            transfer = nil
            easy.close()
            connection.fail(ProxyError(status: 502, message: "could not start the upstream connection", logReason: "internal"),
                            method: head.method, target: head.rawTarget)
        }
    }

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition { .abort }

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        let driver = connection.worker.driver
        guard code == .ok else {
            let detail = t.easy.errorMessage(for: code)
            let refused = t.addressRefused
            driver.cancel(t)
            transfer = nil
            connection.fail(refused ? .destinationDenied : ProxyError.upstream(code, detail), method: head.method,
                            target: head.rawTarget)
            return
        }
        upstreamAddress = t.easy.info(.primaryIP)
        let fd = fcntl(t.easy.activeSocket, F_DUPFD_CLOEXEC, 0)
        // The duplicate keeps the connection open when libcurl closes its own descriptor.
        driver.cancel(t)
        transfer = nil
        guard fd >= 0, (try? Socket.makeNonBlocking(fd)) != nil else {
            if fd >= 0 { Socket.close(fd) }
            connection.fail(ProxyError(status: 502, message: "could not take over the upstream socket", logReason: "internal"),
                            method: head.method, target: head.rawTarget)
            return
        }
        upstreamFD = fd
        do {
            registration = try loop.register(fd: fd, interest: .readable) { [unowned self] ev in self.upstreamEvent(ev) }
        } catch {
            Socket.close(fd)
            upstreamFD = -1
            connection.fail(ProxyError(status: 502, message: "could not watch the upstream socket", logReason: "internal"),
                            method: head.method, target: head.rawTarget)
            return
        }
        connection.send(Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8))
        let m = connection.worker.metrics
        m.counters.add(Metrics.Slot.tunnelsOpened)
        m.counters.add(Metrics.Slot.tunnelsActive)
        m.request(method: "CONNECT", status: 200, seconds: Double(loop.now - started) / 1e9)
        armIdle()
        clientInputChanged()  // bytes the client sent right after its CONNECT head
    }

    // MARK: client → upstream

    func clientInputChanged() {
        guard upstreamFD >= 0, !ended else { return }
        touch()
        if !connection.input.isEmpty {
            if toUpstream.isEmpty {
                let r = connection.input.withReadableBytes { try? Socket.write(upstreamFD, $0) }
                if case .bytes(let n) = r { connection.input.consume(n); bytesIn += Int64(n) }
                else if r == nil { end(); return }
            }
            if !connection.input.isEmpty {
                connection.input.withReadableBytes { toUpstream.append($0) }
                bytesIn += Int64(connection.input.readableBytes)
                connection.input.consume(connection.input.readableBytes)
            }
            connection.inputConsumed()
        }
        if toUpstream.readableBytes >= config.highWatermark { connection.setReading(false) }
        setUpstreamWrite(!toUpstream.isEmpty)
        forwardClientEOFIfDone()
    }

    private func forwardClientEOFIfDone() {
        if connection.clientEOF && toUpstream.isEmpty && !sentUpstreamShutdown {
            sentUpstreamShutdown = true
            Socket.shutdownWrite(upstreamFD)
        }
        finishIfDone()
    }

    // MARK: upstream → client

    private func upstreamEvent(_ ev: IOEvents) {
        touch()
        if ev.contains(.writable) || ev.contains(.error) {
            while !toUpstream.isEmpty {
                let r = toUpstream.withReadableBytes { try? Socket.write(upstreamFD, $0) }
                guard case .bytes(let n) = r else {
                    if r == nil { end(); return }
                    break
                }
                toUpstream.consume(n)
            }
            if toUpstream.readableBytes <= config.lowWatermark { connection.setReading(true) }
            setUpstreamWrite(!toUpstream.isEmpty)
            forwardClientEOFIfDone()
            if ended { return }
        }
        if ev.contains(.readable) || ev.contains(.hangup) || ev.contains(.error) { readUpstream() }
    }

    private func readUpstream() {
        guard readingUpstream, !upstreamEOF, !ended else { return }
        let buf = connection.worker.readBuffer
        while !connection.outputFull {
            let r: IOResult
            do { r = try Socket.read(upstreamFD, into: buf) } catch {
                end()
                return
            }
            switch r {
            case .bytes(let n):
                bytesOut += Int64(n)
                connection.send(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                if connection.isClosed { return }
                if n < buf.count { return }
            case .wouldBlock:
                return
            case .eof:
                upstreamEOF = true
                updateInterest()
                forwardUpstreamEOFIfDone()
                return
            }
        }
        // The client's buffer is full: stop reading the upstream until it drains.
        readingUpstream = false
        updateInterest()
    }

    func clientOutputDrained() {
        guard upstreamFD >= 0, !ended else { return }
        if !readingUpstream && connection.outputLow {
            readingUpstream = true
            updateInterest()
            readUpstream()
        }
        forwardUpstreamEOFIfDone()
    }

    private func forwardUpstreamEOFIfDone() {
        if upstreamEOF && connection.outputBytes == 0 && !sentClientShutdown {
            sentClientShutdown = true
            Socket.shutdownWrite(connection.fd)
        }
        finishIfDone()
    }

    private func finishIfDone() {
        if sentClientShutdown && sentUpstreamShutdown { end() }
    }

    // MARK: interest, idle, end

    private func setUpstreamWrite(_ on: Bool) {
        guard wantWrite != on else { return }
        wantWrite = on
        updateInterest()
    }

    private func updateInterest() {
        guard let id = registration else { return }
        var i: IOEvents = []
        if readingUpstream && !upstreamEOF { i.insert(.readable) }
        if wantWrite { i.insert(.writable) }
        loop.modify(id, interest: i)
    }

    private func touch() { lastActivity = loop.now }

    private func armIdle() {
        idleTimer = loop.schedule(at: lastActivity &+ MonotonicClock.nanoseconds(config.idleTimeout)) { [weak self] in
            self?.idleCheck()
        }
    }

    private func idleCheck() {
        idleTimer = nil
        guard !ended else { return }
        if loop.now >= lastActivity &+ MonotonicClock.nanoseconds(config.idleTimeout) {
            end(reason: "idle-timeout")
        } else {
            armIdle()
        }
    }

    private func end(reason: String? = nil) {
        guard !ended else { return }
        ended = true
        connection.log(head: head, status: 200, bytesOut: bytesOut, error: reason, bytesIn: bytesIn,
                       upstream: upstreamAddress, started: started)
        releaseUpstream()
        connection.close()
    }

    private func releaseUpstream() {
        if upstreamFD >= 0 { connection.worker.metrics.counters.add(Metrics.Slot.tunnelsActive, -1) }
        if let t = idleTimer { loop.cancel(t) }
        idleTimer = nil
        if let id = registration { loop.unregister(id) }
        registration = nil
        if upstreamFD >= 0 { Socket.close(upstreamFD) }
        upstreamFD = -1
    }

    /// The client connection is closing.
    func abort() {
        if let t = transfer {
            transfer = nil
            connection.worker.driver.cancel(t)
        }
        if !ended && upstreamFD >= 0 {
            ended = true
            connection.log(head: head, status: 200, bytesOut: bytesOut, error: "client-closed", bytesIn: bytesIn,
                           upstream: upstreamAddress, started: started)
        }
        ended = true
        releaseUpstream()
    }
}
