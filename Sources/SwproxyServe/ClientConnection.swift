import Glibc
import SwproxyHTTP
import SwproxyLoop

/// The I/O shell of one client connection: it owns the socket, its buffers and its one loop timer, tells
/// its `ConnectionMachine` what happened and performs the action the machine answers. Request heads are
/// parsed here and handed to `dispatch`; whatever runs on a head (exchange, tunnel) talks to the
/// connection through `ClientSide` only. Pipelined requests wait in the input buffer, one job runs at a time.
final class ClientConnection: ClientSide {
    /// The reading side of the socket.
    private enum ReadSide {
        case open
        /// Backpressure: the input buffer is full, or the job paused its client.
        case paused
        /// The client closed its sending side.
        case ended
    }

    let fd: Int32
    /// On a `--listen-tls` listener: the TLS session every byte goes through.
    private let tls: TLSStream?
    /// The client: the TCP peer, or the address a PROXY protocol header named.
    private(set) var peer: SocketAddress? {
        didSet { peerHost = peer?.host ?? "-" }
    }
    /// The client's address as text, made once (`inet_ntop` per use showed in profiles).
    private(set) var peerHost: String
    private(set) var wouldDeny: String?
    let context: LoopContext
    private let release: (ClientConnection) -> Void
    private var machine: ConnectionMachine
    private var job: ClientJob?
    private var registration: RegistrationID!
    private var input = ByteBuffer()
    private var output = ByteBuffer()
    private var parser: RequestHeadParser
    private var readSide = ReadSide.open
    /// The interest registered with the loop (changed only when it differs).
    private var interest: IOEvents = .readable
    /// A `sendFile` found the socket full: the job hears `clientOutputDrained` when it is writable again.
    private var fileWaitsWritable = false
    /// The loop timer behind the machine's deadline. It is moved only when the deadline comes earlier than
    /// it; a later deadline is picked up when it fires (keep-alive traffic moves the deadline on every
    /// request: per-request schedule and cancel showed in profiles).
    private var timer: TimerID?
    private var timerAt: UInt64 = 0
    private lazy var timerCallback: () -> Void = { [unowned self] in self.timerFired() }


    /// `release`: called once, when the connection closed. `tls`: the context of the TLS listener it came
    /// from, nil for a plain one.
    init(fd: Int32, peer: SocketAddress?, context: LoopContext, tls: TLSServerContext? = nil,
         release: @escaping (ClientConnection) -> Void) throws {
        self.fd = fd
        if let t = tls {
            guard let stream = TLSStream(context: t, fd: fd) else { throw SyscallError("SSL_new", errno: ENOMEM) }
            self.tls = stream
        } else {
            self.tls = nil
        }
        self.peer = peer
        peerHost = peer?.host ?? "-"
        self.context = context
        self.release = release
        parser = RequestHeadParser(limits: context.config.limits)
        machine = ConnectionMachine(now: context.loop.now, proxyProtocol: context.config.proxyProtocol,
                                    timeouts: context.timeouts)
        registration = try context.loop.register(fd: fd, interest: .readable) { [unowned self] events in
            self.handle(events)
        }
        if let at = machine.deadline.at { arm(at) }
    }

    // MARK: the machine's actions

    private func perform(_ action: ConnectionMachine.Action) {
        switch action {
        case .none: break
        case .parseProxyHeader: takeProxyHeader()
        case .parseHead: parseHead()
        case .dispatch: break  // parseHead dispatches the head it holds
        case .deliverInput: job?.clientInputChanged()
        case .deliverDrained: job?.clientOutputDrained()
        case .arm(let at): arm(at)
        case .answerHeaderTimeout: fail(.headerTimeout, head: nil)
        case .jobDeadline: job?.jobDeadlinePassed()
        case .awaitRequest(let idleUntil):
            input.releaseIfEmpty()
            arm(idleUntil)
            setReading(true)
        case .parseNext:
            setReading(true)
            parseHead()
        case .stopReading: setReading(false)
        case .linger(let until): linger(until: until)
        case .discard: discardInput()
        case .close: close()
        }
    }

    // MARK: events

    private func handle(_ events: IOEvents) {
        // A TLS handshake that waited for the socket to take its flight goes on through the read side.
        let handshakeWrite = tls?.wantsWritable == true && events.contains(.writable)
        if events.contains(.writable) || events.contains(.error) { flush() }
        if machine.isClosed { return }
        if handshakeWrite || events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
            readAvailable()
        }
    }

    /// One read from the client: through TLS on a TLS listener. Throws when the connection failed.
    private func readClient(_ buf: UnsafeMutableRawBufferPointer) throws -> IOResult {
        guard let t = tls else { return try Socket.read(fd, into: buf) }
        return try t.read(into: buf)
    }

    /// One write to the client; nil when the connection failed.
    private func writeClient(_ bytes: UnsafeRawBufferPointer) -> IOResult? {
        guard let t = tls else { return try? Socket.write(fd, bytes) }
        return try? t.write(bytes)
    }

    /// The TLS session failed: logged and counted when it was still in its handshake, then the connection
    /// closes (there is no one to answer).
    private func tlsFailed() {
        if let t = tls, !t.handshakeDone {
            let why = t.failure ?? "closed"
            context.journal.tlsHandshakeFailed(client: peerHost, why: why)
            // Plain HTTP to the TLS port (OpenSSL recognises it): say so in plain HTTP, as nginx does.
            if why.hasSuffix("http request") || why.hasSuffix("https proxy request") {
                let e = ProxyError(status: 400, message: "this port speaks TLS: use an https:// proxy URL",
                                   logReason: "tls-handshake")
                _ = e.response(via: nil).withUnsafeBytes { try? Socket.write(fd, $0) }
                Socket.shutdownWrite(fd)
                discardInput()
            }
        }
        close()
    }

    private func readAvailable() {
        if machine.state == .lingering {
            discardInput()
            return
        }
        guard readSide == .open else { return }
        let buf = context.readBuffer
        var total = 0
        reading: while true {
            let r: IOResult
            do { r = try readClient(buf) } catch {
                tlsFailed()
                return
            }
            switch r {
            case .bytes(let n):
                input.append(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                total += n
                // A short read drained the socket; TLS returns a record at a time: read on until it would block.
                if (n < buf.count && tls == nil) || input.readableBytes >= context.config.highWatermark { break reading }
            case .wouldBlock:
                break reading
            case .eof:
                readSide = .ended
                updateInterest()
                break reading
            }
        }
        if let t = tls {
            if t.takeJustCompleted() {
                context.journal.tlsHandshake()
                if !output.isEmpty { flush() }  // an answer queued before the handshake (a refused client)
                if machine.isClosed { return }
            }
            updateInterest()
        }
        if input.readableBytes >= context.config.highWatermark { setReading(false) }
        if total > 0 || readSide == .ended {
            perform(machine.inputArrived(buffered: input.readableBytes, eof: readSide == .ended))
        }
    }

    // MARK: request heads

    private func parseHead() {
        guard case .readingHead = machine.state else { return }
        if input.isEmpty {
            if readSide == .ended { close() }
            return
        }
        let result = input.withReadableBytes { parser.parse($0) }
        switch result {
        case .needMore:
            perform(machine.headIncomplete(now: context.loop.now, eof: readSide == .ended))
        case .invalid(let e):
            fail(ProxyError.from(e), head: nil)
        case .head(let head, let consumed):
            input.consume(consumed)
            parser.reset()
            if machine.headParsed() == .dispatch { dispatch(head) }
        }
    }

    /// Reads the PROXY protocol header. A malformed one ends the connection without an answer: whatever sent
    /// it is no load balancer.
    private func takeProxyHeader() {
        switch input.withReadableBytes({ ProxyProtocol.parse($0) }) {
        case .needMore:
            perform(machine.proxyHeaderIncomplete(eof: readSide == .ended))
        case .invalid(let why):
            context.journal.unframed(client: peerHost, reason: "proxy-protocol: \(why)")
            close()
        case .header(let source, let consumed):
            input.consume(consumed)
            switch source {
            case .text(let address, let port): peer = SocketAddress(host: address, port: port) ?? peer
            case .binary(let bytes, let port): peer = SocketAddress(family: bytes.count == 4 ? .v4 : .v6, bytes: bytes, port: port)
            case .unspecified: break
            }
            if case .refuse(let e) = context.policy.admit(peer) {
                refuseClient(e)
                return
            }
            perform(machine.proxyHeaderParsed(buffered: input.readableBytes))
        }
    }

    /// The policy's verdict on the head, then the job that runs on it (`Dispatch`).
    private func dispatch(_ head: RequestHead) {
        switch context.policy.verdict(for: head, client: peer) {
        case .refuse(let e):
            fail(e, head: head)
        case .answer(let status, let bytes):
            send(bytes)
            context.journal.answered(Journal.Record(client: peerHost, head: head, status: status,
                                                    bytesOut: Int64(bytes.count)))
            finished(keepAlive: head.keepAlive)
        case .forward(let audited):
            wouldDeny = audited
            if let r = audited { context.journal.wouldDeny(r) }
            let job = Dispatch.job(for: head, client: self, context: context)
            machine.jobStarted(tunnel: job is Tunnel)
            self.job = job
            job.start()
        }
    }

    /// The client address is outside --allow or inside --deny: 403, and the connection ends.
    func refuseClient(_ e: ProxyError) {
        context.journal.clientDenied()
        fail(e, head: nil)
    }

    // MARK: ClientSide: how the job ends

    /// Answers with an error and closes once it is written: after a bad head, nothing that follows on this
    /// connection can be trusted as the start of a request.
    func failed(_ error: ProxyError, head: RequestHead?) { fail(error, head: head) }

    private func fail(_ e: ProxyError, head: RequestHead?) {
        guard !machine.isClosed else { return }
        job = nil  // it ended itself: nothing to abort
        send(e.response(via: context.snapshot.viaEntry))
        context.journal.refused(Journal.Record(client: peerHost, head: head, status: e.status, reason: e.logReason))
        closeAfterFlush()
    }

    func finished(keepAlive: Bool) {
        job = nil
        perform(machine.jobFinished(now: context.loop.now, keepAlive: keepAlive, draining: context.draining,
                                    buffered: input.readableBytes, eof: readSide == .ended, outputEmpty: output.isEmpty))
    }

    func closeAfterFlush() {
        perform(machine.closeAfterFlush(now: context.loop.now, outputEmpty: output.isEmpty))
    }

    func abort() { close() }

    // MARK: ClientSide: input

    var inputBuffered: Int { input.readableBytes }
    var inputEnded: Bool { readSide == .ended }

    func takeInput(_ body: (UnsafeRawBufferPointer) -> Int) {
        guard !input.isEmpty else { return }
        let n = input.withReadableBytes(body)
        guard n > 0 else { return }
        input.consume(n)
        // Taken by the job: read more if reading was paused for a full buffer.
        if readSide == .paused && input.readableBytes < context.config.lowWatermark && machine.isRunningJob {
            setReading(true)
        }
    }

    func pauseReading(_ paused: Bool) {
        guard machine.isRunningJob else { return }
        setReading(!paused)
    }

    // MARK: ClientSide: output

    /// Queues bytes for the client, writing at once when nothing is queued.
    func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    func send(_ bytes: UnsafeRawBufferPointer) {
        guard !machine.isClosed, bytes.count > 0 else { return }
        var rest = bytes
        if output.isEmpty {
            switch writeClient(bytes) {
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
        updateInterest()
    }

    func sendFile(_ file: Int32, offset: inout Int64, count: Int) -> SendFileResult {
        guard !machine.isClosed else { return .closed }
        guard tls == nil else { return .unsupported }
        guard output.isEmpty else { return .wouldBlock }  // the queue's flush ends in clientOutputDrained
        var off = off_t(offset)
        let n = Glibc.sendfile(fd, file, &off, count)
        if n > 0 {
            offset = Int64(off)
            return .sent(n)
        }
        if n < 0 && (errno == EAGAIN || errno == EINTR) {
            fileWaitsWritable = true
            updateInterest()
            return .wouldBlock
        }
        if n == 0 { return .unsupported }  // nothing to read there: let the caller's read say why
        close()
        return .closed
    }

    private func flush() {
        fileWaitsWritable = false
        while !output.isEmpty {
            let r = output.withReadableBytes { writeClient($0) }
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
        updateInterest()
        perform(machine.outputDrained(now: context.loop.now))
    }

    var outputFull: Bool { output.readableBytes >= context.config.highWatermark }
    var outputLow: Bool { output.readableBytes <= context.config.lowWatermark }
    var outputEmpty: Bool { output.isEmpty }
    var isClosed: Bool { machine.isClosed }

    func shutdownOutput() {
        tls?.close()
        Socket.shutdownWrite(fd)
    }

    // MARK: ClientSide: the job's deadline

    func setDeadline(at: UInt64) { perform(machine.setJobDeadline(at)) }
    func clearDeadline() { machine.clearJobDeadline() }

    // MARK: timer

    private func arm(_ at: UInt64) {
        if timer != nil && timerAt <= at { return }
        if let old = timer { context.loop.cancel(old) }
        timerAt = at
        timer = context.loop.schedule(at: at, timerCallback)
    }

    private func timerFired() {
        timer = nil
        perform(machine.deadlinePassed(now: context.loop.now, buffered: input.readableBytes))
    }

    // MARK: closing

    /// Closes after a response the client may still be sending into (an error, or `Connection: close` with
    /// pipelined requests behind it): closing a socket with unread input makes the kernel send RST, which
    /// can destroy the response before the client reads it. So: shut our side, discard what arrives for a
    /// short while, then close.
    /// - SeeAlso: RFC 9112 §9.6
    private func linger(until: UInt64) {
        if let j = job {
            job = nil
            j.abort()
        }
        tls?.close()
        Socket.shutdownWrite(fd)
        input = ByteBuffer()
        if readSide == .paused { readSide = .open }
        updateInterest()
        arm(until)
        discardInput()
    }

    private func discardInput() {
        let buf = context.readBuffer
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
    private func setReading(_ on: Bool) {
        guard !machine.isClosed else { return }
        switch (readSide, on) {
        case (.paused, true):
            readSide = .open
            updateInterest()
            readAvailable()
        case (.open, false):
            readSide = .paused
            updateInterest()
        default:
            break
        }
    }

    private func updateInterest() {
        guard !machine.isClosed else { return }
        var i: IOEvents = []
        if readSide == .open || (machine.state == .lingering && readSide != .ended) { i.insert(.readable) }
        // Output waits for a TLS handshake to finish; the handshake itself may wait to write.
        if (!output.isEmpty || fileWaitsWritable) && tls?.handshakeDone != false { i.insert(.writable) }
        if tls?.wantsWritable == true { i.insert(.writable) }
        guard i != interest else { return }
        interest = i
        context.loop.modify(registration, interest: i)
    }

    // MARK: lifetime

    /// Whether the connection is between requests (it can be closed without losing a response).
    var isIdle: Bool { machine.isBetweenRequests && input.isEmpty && output.isEmpty }

    func close() {
        guard !machine.isClosed else { return }
        machine.closed()
        if let t = timer { context.loop.cancel(t) }
        timer = nil
        if let j = job {
            job = nil
            j.abort()
        }
        context.loop.unregister(registration)
        Socket.close(fd)
        release(self)
    }
}
