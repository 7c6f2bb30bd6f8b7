import Glibc
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// A CONNECT tunnel: libcurl makes the upstream connection (`CURLOPT_CONNECT_ONLY`: its resolver, happy
/// eyeballs and timeouts), then the socket is taken over (duplicated, so removing the easy handle does not
/// close it) and bytes are relayed both ways on this loop with the same watermarks, half-close forwarded
/// with `shutdown(SHUT_WR)`, until both sides are done or the tunnel is idle too long.
/// - SeeAlso: RFC 9110 §9.3.6
///
/// An Upgrade request (WebSocket) takes the same path: libcurl has no raw stream after a 101, so the
/// connection is made `CONNECT_ONLY`, swproxy writes the re-serialised request head itself and reads the
/// response head: a 101 turns the connection into this relay; any other answer is relayed with
/// `Connection: close` and ends the client connection.
/// - SeeAlso: RFC 9110 §7.8 (Upgrade), RFC 6455 §4
final class Tunnel: TransferDelegate {
    /// A request head to send upstream before relaying, for an Upgrade.
    struct Upgrade {
        let host: String
        let port: Int
        let requestHead: [UInt8]
    }

    /// Where an Upgrade stands: the response head is awaited, then relayed (101) or answered and ended.
    enum Phase {
        case relay
        case awaitingResponse
        /// A non-101 answer: its body is relayed until its framing ends (or the upstream closes).
        case finalResponse(remaining: UInt64?, chunked: ChunkedDecoder?)
    }

    unowned let connection: ClientConnection
    let head: RequestHead
    private let upgrade: Upgrade?
    var phase = Phase.relay
    var responseHead = ByteBuffer()
    var logStatus = 200
    private var route: UpstreamRoute?
    private var transfer: Transfer?
    /// Through an https:// upstream proxy the tunnel runs inside libcurl's TLS session with that proxy: bytes
    /// go through `curl_easy_recv`/`curl_easy_send` on this (kept) transfer; the raw socket only says when.
    private var viaLibcurl: Transfer?
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
    let started: UInt64
    private var bytesIn: Int64 = 0
    private var bytesOut: Int64 = 0
    private var upstreamAddress: String?
    var ended = false

    init(connection: ClientConnection, head: RequestHead, upgrade: Upgrade? = nil) {
        self.connection = connection
        self.head = head
        self.upgrade = upgrade
        started = connection.worker.loop.now
        lastActivity = started
    }

    var config: ServeConfiguration { connection.config }
    var loop: EventLoop { connection.worker.loop }

    func start() {
        let host: String
        let port: Int
        if let u = upgrade {
            (host, port) = (u.host, u.port)
        } else {
            guard case .authority(let h, let p) = head.target else { return }
            (host, port) = (h, p)
        }
        let route = connection.worker.router.tunnel(host: host, port: port)
        self.route = route
        let easy = EasyHandle()
        let t = Transfer(easy: easy, delegate: self)
        transfer = t
        if let filter = connection.worker.policy.destinationFilter { t.setAddressFilter(filter) }
        easy.set(.url, route.url)
        easy.set(.connectOnly, true)
        easy.set(.proxy, route.proxy)  // "" = direct
        if route.proxyTunnel { easy.set(.httpProxyTunnel, true) }
        if let ca = config.upstreamCACert { easy.set(.proxyCAInfo, ca) }
        if config.upstreamInsecure { easy.disableTLSVerification() }
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
            connection.fail(refused ? .destinationDenied : ProxyError.upstream(code, detail, proxy: route?.proxyDisplay),
                            method: head.method, target: head.rawTarget)
            return
        }
        upstreamAddress = t.easy.info(.primaryIP)
        let fd = fcntl(t.easy.activeSocket, F_DUPFD_CLOEXEC, 0)
        if route?.proxy.hasPrefix("https://") == true {
            viaLibcurl = t  // released with the tunnel
        } else {
            // The duplicate keeps the connection open when libcurl closes its own descriptor.
            driver.cancel(t)
        }
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
        let m = connection.worker.metrics
        m.counters.add(Metrics.Slot.tunnelsActive)
        if let u = upgrade {
            // Nothing from the client goes upstream before the origin agreed to switch.
            phase = .awaitingResponse
            toUpstream.append(contentsOf: u.requestHead)
            setUpstreamWrite(true)
            armIdle()
            return
        }
        connection.send(Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8))
        m.counters.add(Metrics.Slot.tunnelsOpened)
        m.request(method: "CONNECT", status: 200, seconds: Double(loop.now - started) / 1e9)
        armIdle()
        clientInputChanged()  // bytes the client sent right after its CONNECT head
    }

    // MARK: client → upstream

    func clientInputChanged() {
        guard upstreamFD >= 0, !ended else { return }
        guard case .relay = phase else {
            // Before the switch (or after a refusal) nothing of the client's goes upstream.
            if connection.input.readableBytes >= config.highWatermark { connection.setReading(false) }
            return
        }
        touch()
        if !connection.input.isEmpty {
            if toUpstream.isEmpty {
                let r = connection.input.withReadableBytes { writeUpstream($0) }
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
            // Inside TLS there is no half-close to pass on: the client's EOF ends the tunnel.
            if viaLibcurl != nil {
                end()
                return
            }
            Socket.shutdownWrite(upstreamFD)
        }
        finishIfDone()
    }

    // MARK: upstream → client

    private func upstreamEvent(_ ev: IOEvents) {
        touch()
        if ev.contains(.writable) || ev.contains(.error) {
            while !toUpstream.isEmpty {
                let r = toUpstream.withReadableBytes { writeUpstream($0) }
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
            guard let r = readUpstreamBytes(into: buf) else {
                end()
                return
            }
            switch r {
            case .bytes(let n):
                bytesOut += Int64(n)
                if case .relay = phase {
                    connection.send(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                } else {
                    upgradeResponseBytes(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                    if ended { return }
                }
                if connection.isClosed { return }
                // A short read drained the socket; TLS may still hold decrypted bytes: read on until wouldBlock.
                if n < buf.count && viaLibcurl == nil { return }
            case .wouldBlock:
                return
            case .eof:
                switch phase {
                case .relay: break
                case .awaitingResponse:
                    failUpgrade("end of connection instead of a response")
                    return
                case .finalResponse:
                    end(flush: true)
                    return
                }
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

    // MARK: upstream I/O (raw socket, or libcurl's connection for an https:// proxy)

    /// nil: the connection failed.
    private func writeUpstream(_ bytes: UnsafeRawBufferPointer) -> IOResult? {
        guard let t = viaLibcurl else { return try? Socket.write(upstreamFD, bytes) }
        return try? t.send(bytes)
    }

    /// nil: the connection failed.
    private func readUpstreamBytes(into buf: UnsafeMutableRawBufferPointer) -> IOResult? {
        guard let t = viaLibcurl else { return try? Socket.read(upstreamFD, into: buf) }
        return try? t.receive(into: buf)
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

    /// `flush`: the client still has to receive what was queued (a non-101 answer to an Upgrade).
    func end(reason: String? = nil, flush: Bool = false) {
        guard !ended else { return }
        ended = true
        connection.log(head: head, status: logStatus, bytesOut: bytesOut, error: reason, bytesIn: bytesIn,
                       upstream: upstreamAddress, started: started)
        releaseUpstream()
        if flush { connection.closeAfterFlush() } else { connection.close() }
    }

    func releaseUpstream() {
        if upstreamFD >= 0 { connection.worker.metrics.counters.add(Metrics.Slot.tunnelsActive, -1) }
        if let t = idleTimer { loop.cancel(t) }
        idleTimer = nil
        if let id = registration { loop.unregister(id) }
        registration = nil
        if upstreamFD >= 0 { Socket.close(upstreamFD) }
        upstreamFD = -1
        if let t = viaLibcurl {
            viaLibcurl = nil
            connection.worker.driver.cancel(t)
        }
    }

    /// The client connection is closing.
    func abort() {
        if let t = transfer {
            transfer = nil
            connection.worker.driver.cancel(t)
        }
        if !ended && upstreamFD >= 0 {
            ended = true
            connection.log(head: head, status: logStatus, bytesOut: bytesOut, error: "client-closed", bytesIn: bytesIn,
                           upstream: upstreamAddress, started: started)
        }
        ended = true
        releaseUpstream()
    }
}
