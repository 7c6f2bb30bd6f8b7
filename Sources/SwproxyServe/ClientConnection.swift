import Glibc
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// One client connection: reads and parses request heads, runs one exchange (or tunnel) at a time in
/// request order (pipelined requests wait in the input buffer), writes responses with bounded buffering,
/// and keeps the connection alive between requests.
final class ClientConnection {
    enum State {
        case readingHead
        case exchanging(ProxyExchange)
        case tunnelling(Tunnel)
        case closed
    }

    let fd: Int32
    /// The client: the TCP peer, or the address a PROXY protocol header named.
    private(set) var peer: SocketAddress? {
        didSet { peerHost = peer?.host ?? "-" }
    }
    /// The client's address as text, made once (`inet_ntop` per use showed in profiles).
    private(set) var peerHost: String
    /// `--proxy-protocol`: the connection's first bytes must be a PROXY header.
    private var awaitingProxyHeader: Bool
    unowned let worker: Worker
    private var registration: RegistrationID!
    var input = ByteBuffer()
    private var output = ByteBuffer()
    private var parser: RequestHeadParser
    private(set) var state = State.readingHead
    // The one deadline (ClientConnection+Deadline.swift).
    var timer: TimerID?
    var timerAt: UInt64 = 0
    var deadlineKind = Deadline.none
    var deadlineAt: UInt64 = 0
    lazy var timerCallback: () -> Void = { [unowned self] in self.timerFired() }
    private var readingEnabled = true
    private var writeInterest = false
    /// The client closed its sending side.
    private(set) var clientEOF = false
    private var closeWhenFlushed = false
    private var headStartedAt: UInt64 = 0
    /// Whether the timer now running is the header timeout (not the keep-alive idle one).
    private var headTimerRunning = true

    var config: ServeConfiguration { worker.config }
    var outputBytes: Int { output.readableBytes }

    init(fd: Int32, peer: SocketAddress?, worker: Worker) throws {
        self.fd = fd
        self.peer = peer
        peerHost = peer?.host ?? "-"
        self.worker = worker
        awaitingProxyHeader = worker.config.proxyProtocol
        parser = RequestHeadParser(limits: worker.config.limits)
        registration = try worker.loop.register(fd: fd, interest: .readable) { [unowned self] events in
            self.handle(events)
        }
        setDeadline(.head, after: config.headerTimeout)
    }

    // MARK: events

    private func handle(_ events: IOEvents) {
        if events.contains(.writable) || events.contains(.error) { flush() }
        if case .closed = state { return }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) { readAvailable() }
    }

    private func readAvailable() {
        if lingering {
            discardInput()
            return
        }
        guard readingEnabled, !clientEOF else { return }
        let buf = worker.readBuffer
        var total = 0
        reading: while true {
            let r: IOResult
            do { r = try Socket.read(fd, into: buf) } catch {
                close()
                return
            }
            switch r {
            case .bytes(let n):
                input.append(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                total += n
                if n < buf.count || input.readableBytes >= config.highWatermark { break reading }
            case .wouldBlock:
                break reading
            case .eof:
                clientEOF = true
                break reading
            }
        }
        if input.readableBytes >= config.highWatermark { setReading(false) }
        if total > 0 || clientEOF { inputChanged() }
    }

    /// New input (or EOF): hand it to whoever is reading it.
    private func inputChanged() {
        switch state {
        case .readingHead:
            parseHead()
        case .exchanging(let x):
            x.clientInputChanged()
        case .tunnelling(let t):
            t.clientInputChanged()
        case .closed:
            break
        }
    }

    // MARK: request heads

    private func parseHead() {
        guard case .readingHead = state else { return }
        if input.isEmpty {
            if clientEOF { close() }
            return
        }
        if headStartedAt == 0 { headStartedAt = worker.loop.now }
        if awaitingProxyHeader {
            guard takeProxyHeader() else {
                armHeaderTimer()
                return
            }
            guard !input.isEmpty else {
                armHeaderTimer()
                return
            }
        }
        let result = input.withReadableBytes { parser.parse($0) }
        switch result {
        case .needMore:
            if clientEOF { close() } else { armHeaderTimer() }
        case .invalid(let e):
            fail(ProxyError.from(e), method: "-", target: "-")
        case .head(let head, let consumed):
            input.consume(consumed)
            parser.reset()
            clearDeadline()
            headStartedAt = 0
            headTimerRunning = false
            dispatch(head)
        }
    }

    /// Starts the header timeout once a head is incomplete. The first head's clock started at accept; a later
    /// one's starts at its first byte (until then the keep-alive idle timer ran): a head that arrives whole
    /// costs no timer at all. Re-arming for the first head would give a client that waits before its first
    /// byte almost twice --header-timeout.
    private func armHeaderTimer() {
        guard !headTimerRunning, !isClosed, !lingering, !closeWhenFlushed, case .readingHead = state else { return }
        headTimerRunning = true
        let elapsed = Double(worker.loop.now &- headStartedAt) / 1e9
        setDeadline(.head, after: max(0, config.headerTimeout - elapsed))
    }

    /// Reads the PROXY protocol header; false while it is incomplete or when the connection was ended.
    /// A malformed header ends the connection without an answer: whatever sent it is no load balancer.
    private func takeProxyHeader() -> Bool {
        switch input.withReadableBytes({ ProxyProtocol.parse($0) }) {
        case .needMore:
            if clientEOF { close() }
            return false
        case .invalid(let why):
            worker.accessLog.write(AccessLog.Entry(
                client: peerHost, method: "-", target: "-", version: "-", status: 400, bytesIn: 0, bytesOut: 0,
                durationMs: 0, error: "proxy-protocol: \(why)"))
            close()
            return false
        case .header(let source, let consumed):
            input.consume(consumed)
            awaitingProxyHeader = false
            switch source {
            case .text(let address, let port): peer = SocketAddress(host: address, port: port) ?? peer
            case .binary(let bytes, let port): peer = SocketAddress(family: bytes.count == 4 ? .v4 : .v6, bytes: bytes, port: port)
            case .unspecified: break
            }
            if !worker.access.permits(peer) {
                refuseClient()
                return false
            }
            return true
        }
    }

    private func dispatch(_ head: RequestHead) {
        if let e = worker.policy.check(head, client: peer) {
            fail(e, method: head.method, target: head.rawTarget, version: head.version.text)
            return
        }
        if let answer = worker.policy.answerLocally(head) {
            send(answer.bytes)
            log(head: head, status: answer.status, bytesOut: Int64(answer.bytes.count), error: nil)
            exchangeFinished(keepAlive: head.keepAlive)
            return
        }
        switch head.target {
        case .authority, .absolute:
            guard config.forwards else {
                fail(.reverseOnly, method: head.method, target: head.rawTarget, version: head.version.text)
                return
            }
        case .origin:
            guard config.reverse != nil else {
                fail(.originForm, method: head.method, target: head.rawTarget, version: head.version.text)
                return
            }
        case .asterisk:
            fail(config.reverse != nil ? .reverseOnly : .originForm, method: head.method, target: head.rawTarget,
                 version: head.version.text)
            return
        }
        if case .authority = head.target {
            let t = Tunnel(connection: self, head: head)
            state = .tunnelling(t)
            t.start()
        } else if let u = upgradeRequest(head) {
            let t = Tunnel(connection: self, head: head, upgrade: u)
            state = .tunnelling(t)
            t.start()
        } else {
            let x = ProxyExchange(connection: self, head: head)
            state = .exchanging(x)
            x.start()
        }
    }

    /// An Upgrade (WebSocket) request to relay after a 101, or nil to forward the request normally (with
    /// `Upgrade` stripped as hop-by-hop): `--no-upgrade`, HTTP/1.0, a request body, or an https:// origin.
    private func upgradeRequest(_ head: RequestHead) -> Tunnel.Upgrade? {
        guard config.upgrade, head.version == .http11, head.framing == .none, head.connectionTokens.contains("upgrade"),
            head.field("upgrade") != nil, let dest = worker.router.upgrade(head)
        else { return nil }
        var fields = UpstreamHead(config: config, head: head, client: peer, clientHost: peerHost).fields(upgrade: true)
        if !fields.contains(where: { $0.isNamed("host") }) { fields.insert(HeaderField("Host", dest.authority), at: 0) }
        return Tunnel.Upgrade(host: dest.host, port: dest.port,
                              requestHead: HeadWriter.request(method: head.method, target: dest.target, fields: fields))
    }

    /// The client address is outside --allow or inside --deny: 403, and the connection ends.
    func refuseClient() {
        worker.metrics.counters.add(Metrics.Slot.connectionsDenied)
        fail(.clientDenied, method: "-", target: "-", version: "-")
    }

    /// Answers with an error and closes once it is written: after a bad head, nothing that follows on this
    /// connection can be trusted as the start of a request.
    func fail(_ e: ProxyError, method: String, target: String, version: String = "HTTP/1.1") {
        if case .closed = state { return }
        state = .readingHead
        send(e.response(via: config.via ? "1.1 \(config.viaName)" : nil))
        worker.accessLog.write(AccessLog.Entry(
            client: peerHost, method: method, target: target, version: version, status: e.status, bytesIn: 0,
            bytesOut: 0, durationMs: 0, error: e.logReason))
        worker.record(method: method, status: e.status, bytesIn: 0, bytesOut: 0, seconds: 0, error: e.logReason,
                      byPolicy: e.status == 403 || e.status == 407)
        closeAfterFlush()
    }

    func headerTimedOut() {
        guard case .readingHead = state else { return }
        if input.isEmpty && headStartedAt == 0 {
            close()  // idle keep-alive connection: nothing to answer
        } else {
            fail(.headerTimeout, method: "-", target: "-")
        }
    }

    /// The current exchange wrote its whole response: read the next request (pipelined ones are already
    /// buffered) or close.
    func exchangeFinished(keepAlive: Bool) {
        guard !isClosed else { return }
        state = .readingHead
        if !keepAlive || worker.draining {
            closeAfterFlush()
            return
        }
        setReading(true)
        if input.isEmpty {
            input.releaseIfEmpty()
            headTimerRunning = false
            setDeadline(.head, after: config.idleTimeout)
            if clientEOF { closeAfterFlush() }
        } else {
            parseHead()
        }
    }

    func log(head: RequestHead, status: Int, bytesOut: Int64, error: String?, bytesIn: Int64 = 0,
             upstream: String? = nil, started: UInt64? = nil)
    {
        let ms = started.map { Double(worker.loop.now - $0) / 1e6 } ?? 0
        if head.method != "CONNECT" {
            worker.record(method: head.method, status: status, bytesIn: bytesIn, bytesOut: bytesOut, seconds: ms / 1000,
                          error: error)
        } else {
            worker.metrics.counters.add(Metrics.Slot.bytesFromClients, Int(bytesIn))
            worker.metrics.counters.add(Metrics.Slot.bytesToClients, Int(bytesOut))
        }
        guard worker.accessLog.enabled else { return }
        worker.accessLog.write(AccessLog.Entry(
            client: peerHost, method: head.method, target: head.rawTarget, version: head.version.text, status: status,
            bytesIn: bytesIn, bytesOut: bytesOut, durationMs: ms, referer: head.field("referer"),
            userAgent: head.field("user-agent"), upstream: upstream, error: error))
    }

    // MARK: output

    /// Queues bytes for the client, writing at once when nothing is queued.
    func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    func send(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, bytes.count > 0 else { return }
        var rest = bytes
        if output.isEmpty {
            switch try? Socket.write(fd, bytes) {
            case .bytes(let n):
                if n == bytes.count { return }
                rest = UnsafeRawBufferPointer(rebasing: bytes[n...])
            case .wouldBlock:
                break
            default:
                close()
                return
            }
        }
        output.append(rest)
        setWriteInterest(true)
    }

    private func flush() {
        while !output.isEmpty {
            let r = output.withReadableBytes { try? Socket.write(fd, $0) }
            switch r {
            case .bytes(let n):
                output.consume(n)
            case .wouldBlock:
                return
            default:
                close()
                return
            }
        }
        output.releaseIfEmpty()
        setWriteInterest(false)
        if closeWhenFlushed {
            lingeringClose()
            return
        }
        outputDrained()
    }

    private func outputDrained() {
        switch state {
        case .exchanging(let x): x.clientOutputDrained()
        case .tunnelling(let t): t.clientOutputDrained()
        default: break
        }
    }

    /// True while the client's outbound buffer is above the high watermark: producers should pause.
    var outputFull: Bool { output.readableBytes >= config.highWatermark }
    var outputLow: Bool { output.readableBytes <= config.lowWatermark }

    func closeAfterFlush() {
        closeWhenFlushed = true
        if output.isEmpty { lingeringClose() } else { setReading(false) }
    }

    /// Closes after a response the client may still be sending into (an error, or `Connection: close` with
    /// pipelined requests behind it): closing a socket with unread input makes the kernel send RST, which
    /// can destroy the response before the client reads it. So: shut our side, discard what arrives for a
    /// short while, then close.
    /// - SeeAlso: RFC 9112 §9.6
    private func lingeringClose() {
        guard !isClosed else { return }
        if lingering { return }
        lingering = true
        if case .exchanging(let x) = state { x.abort() }
        if case .tunnelling(let t) = state { t.abort() }
        state = .readingHead
        Socket.shutdownWrite(fd)
        input = ByteBuffer()
        readingEnabled = true
        updateInterest()
        setDeadline(.linger, after: config.lingerTimeout)
        discardInput()
    }

    private var lingering = false

    private func discardInput() {
        let buf = worker.readBuffer
        while true {
            switch try? Socket.read(fd, into: buf) {
            case .bytes: continue
            case .wouldBlock: return
            default:
                close()
                return
            }
        }
    }

    // MARK: reading control

    /// Stops or resumes reading from the client (backpressure on its uploads and pipelined requests).
    func setReading(_ on: Bool) {
        guard !isClosed, readingEnabled != on else { return }
        readingEnabled = on
        updateInterest()
        if on && !clientEOF { readAvailable() }
    }

    /// Input was consumed by an exchange or tunnel: read more if reading was paused.
    func inputConsumed() {
        if !readingEnabled && input.readableBytes < config.lowWatermark && !closeWhenFlushed {
            if case .readingHead = state { return }
            setReading(true)
        }
    }

    private func setWriteInterest(_ on: Bool) {
        guard writeInterest != on, !isClosed else { return }
        writeInterest = on
        updateInterest()
    }

    private func updateInterest() {
        var i: IOEvents = []
        if readingEnabled && !clientEOF { i.insert(.readable) }
        if writeInterest { i.insert(.writable) }
        worker.loop.modify(registration, interest: i)
    }

    // MARK: lifetime

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether the connection is between requests (it can be closed without losing a response).
    var isIdle: Bool {
        if case .readingHead = state { return input.isEmpty && output.isEmpty }
        return false
    }

    func close() {
        guard !isClosed else { return }
        let previous = state
        state = .closed
        cancelTimerForClose()
        switch previous {
        case .exchanging(let x): x.abort()
        case .tunnelling(let t): t.abort()
        default: break
        }
        worker.loop.unregister(registration)
        Socket.close(fd)
        worker.connectionClosed(self)
    }
}
