import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// A CONNECT tunnel, or an Upgrade (WebSocket) relay: once the upstream connection stands
/// (Tunnel+Connect.swift), bytes are relayed both ways on this loop with the connection's watermarks,
/// half-close passed on with `shutdown(SHUT_WR)`, until both directions are shut or the tunnel is idle for
/// `--idle-timeout` (an `ActivityDeadline` on the connection's one deadline).
/// - SeeAlso: RFC 9110 §9.3.6
///
/// An Upgrade takes the same path (Tunnel+Upgrade.swift): swproxy writes the request head itself and reads
/// the response head: a 101 turns the connection into this relay; any other answer is relayed with
/// `Connection: close` and ends the client connection.
/// - SeeAlso: RFC 9110 §7.8 (Upgrade), RFC 6455 §4
final class Tunnel: TransferDelegate, ClientJob {
    /// A request head to send upstream before relaying, for an Upgrade.
    struct Upgrade {
        let host: String
        let port: Int
        let requestHead: [UInt8]
    }

    /// Where the tunnel stands.
    enum Stage {
        /// libcurl is making the upstream connection.
        case connecting
        /// An Upgrade's request head went (or goes) upstream; its response head is awaited.
        case awaitingUpgradeResponse
        /// A non-101 answer to an Upgrade: its body is relayed until its framing ends (or the upstream closes).
        case finalResponse(remaining: UInt64?, chunked: ChunkedDecoder?)
        /// Bytes flow both ways.
        case relaying
        case ended
    }

    /// A CONNECT tunnel's first client bytes, when the policy checks them (`Policy.checksTunnelHello`): held
    /// back until they are a TLS ClientHello whose server name passed, for at most `--header-timeout`.
    enum HelloCheck: Equatable {
        case off
        case pending(until: UInt64)
        case passed
    }

    /// One direction of the relay.
    enum Flow: Equatable {
        case open
        /// The reader stopped: the other side's buffer is full.
        case paused
        /// The sender closed; the end is passed on once what it sent was written.
        case ended
        /// The end was passed on (`shutdown(SHUT_WR)` on the other side).
        case shut
    }

    unowned let client: ClientSide
    let context: LoopContext
    let head: RequestHead
    let config: ServeConfiguration
    let host: String
    let port: Int
    let upgrade: Upgrade?
    var stage = Stage.connecting
    /// Upstream → client.
    var fromUpstream = Flow.open
    /// Client → upstream: `open` until the client's EOF was passed on.
    var fromClient = Flow.open
    var responseHead = ByteBuffer()
    var logStatus = 200
    var route: UpstreamRoute?
    /// With several `--upstream-proxy` parents: which is tried now.
    var parents = ParentAttempts()
    /// The CONNECT_ONLY transfer while it connects.
    var transfer: Transfer?
    /// Through an https:// upstream proxy the tunnel runs inside libcurl's TLS session with that proxy: bytes
    /// go through `curl_easy_recv`/`curl_easy_send` on this (kept) transfer; the raw socket only says when.
    var viaLibcurl: Transfer?
    var upstreamFD: Int32 = -1
    var registration: RegistrationID?
    /// The interest registered for the upstream socket.
    var interest: IOEvents = .readable
    var toUpstream = ByteBuffer()
    var idle: ActivityDeadline
    let started: UInt64
    var bytesIn: Int64 = 0
    var bytesOut: Int64 = 0
    var upstreamAddress: String?
    var hello = HelloCheck.off
    /// Under `--audit`: what the policy would have refused (the request's, or the ClientHello's).
    var wouldDeny: String?

    /// A CONNECT tunnel to `host`:`port`.
    convenience init(client: ClientSide, context: LoopContext, head: RequestHead, host: String, port: Int) {
        self.init(client: client, context: context, head: head, host: host, port: port, upgrade: nil)
    }

    /// An Upgrade relay.
    convenience init(client: ClientSide, context: LoopContext, head: RequestHead, upgrade: Upgrade) {
        self.init(client: client, context: context, head: head, host: upgrade.host, port: upgrade.port, upgrade: upgrade)
    }

    private init(client: ClientSide, context: LoopContext, head: RequestHead, host: String, port: Int, upgrade: Upgrade?) {
        self.client = client
        self.context = context
        self.head = head
        config = context.config
        self.host = host
        self.port = port
        self.upgrade = upgrade
        started = context.loop.now
        idle = ActivityDeadline(span: MonotonicClock.nanoseconds(context.config.idleTimeout), now: started)
    }

    var loop: EventLoop { context.loop }

    var isEnded: Bool {
        if case .ended = stage { return true }
        return false
    }

    var isRelaying: Bool {
        if case .relaying = stage { return true }
        return false
    }

    // MARK: client → upstream

    func clientInputChanged() {
        guard upstreamFD >= 0, !isEnded else { return }
        guard isRelaying else {
            // Before the switch (or after a refusal) nothing of the client's goes upstream.
            if client.inputBuffered >= config.highWatermark { client.pauseReading(true) }
            return
        }
        touch()
        if case .pending = hello, !checkHello() { return }
        var failed = false
        client.takeInput { b in
            var written = 0
            if toUpstream.isEmpty {
                guard let r = writeUpstream(b) else {
                    failed = true
                    return 0
                }
                if case .bytes(let n) = r { written = n }
            }
            if written < b.count { toUpstream.append(UnsafeRawBufferPointer(rebasing: b[written...])) }
            bytesIn += Int64(b.count)
            return b.count
        }
        if failed {
            end()
            return
        }
        if toUpstream.readableBytes >= config.highWatermark { client.pauseReading(true) }
        updateInterest()
        forwardClientEOFIfDone()
    }

    private func forwardClientEOFIfDone() {
        if client.inputEnded && toUpstream.isEmpty && fromClient == .open {
            fromClient = .shut
            // Inside TLS there is no half-close to pass on: the client's EOF ends the tunnel.
            if viaLibcurl != nil {
                end()
                return
            }
            Socket.shutdownWrite(upstreamFD)
        }
        finishIfDone()
    }

    /// Whether the client's first bytes may go upstream: false while the ClientHello is incomplete, or when
    /// it was refused (the tunnel ended).
    private func checkHello() -> Bool {
        var inspection = TLSClientHello.Inspection.needMore
        client.takeInput { b in
            inspection = TLSClientHello.inspect(b)
            return 0
        }
        if inspection == .needMore {
            guard client.inputEnded else { return false }
            // The client stopped sending: nothing to check when it sent nothing, else a cut-off hello.
            if client.inputBuffered > 0 { inspection = .malformed }
        }
        if inspection != .needMore, let (e, enforced) = context.policy.checkHello(inspection, connectHost: host, port: port) {
            if enforced {
                context.journal.tunnelRefused(e.logReason)
                end(reason: e.logReason)
                return false
            }
            wouldDeny = e.logReason
            context.journal.wouldDeny(e.logReason)
        }
        hello = .passed
        armIdle()
        return true
    }

    // MARK: upstream → client

    func upstreamEvent(_ ev: IOEvents) {
        touch()
        if ev.contains(.writable) || ev.contains(.error) {
            while !toUpstream.isEmpty {
                let r = toUpstream.withReadableBytes { writeUpstream($0) }
                guard case .bytes(let n) = r else {
                    if r == nil {
                        end()
                        return
                    }
                    break
                }
                toUpstream.consume(n)
            }
            if toUpstream.readableBytes <= config.lowWatermark { client.pauseReading(false) }
            updateInterest()
            forwardClientEOFIfDone()
            if isEnded { return }
        }
        if ev.contains(.readable) || ev.contains(.hangup) || ev.contains(.error) { readUpstream() }
    }

    private func readUpstream() {
        guard fromUpstream == .open, !isEnded else { return }
        let buf = context.readBuffer
        while !client.outputFull {
            guard let r = readUpstreamBytes(into: buf) else {
                end()
                return
            }
            switch r {
            case .bytes(let n):
                bytesOut += Int64(n)
                let piece = UnsafeRawBufferPointer(rebasing: buf[0..<n])
                if isRelaying {
                    client.send(piece)
                } else {
                    upgradeResponseBytes(piece)
                    if isEnded { return }
                }
                if client.isClosed { return }
                // A short read drained the socket; TLS may still hold decrypted bytes: read on until wouldBlock.
                if n < buf.count && viaLibcurl == nil { return }
            case .wouldBlock:
                return
            case .eof:
                switch stage {
                case .relaying:
                    fromUpstream = .ended
                    updateInterest()
                    forwardUpstreamEOFIfDone()
                case .awaitingUpgradeResponse:
                    failUpgrade("end of connection instead of a response")
                case .finalResponse:
                    end(flush: true)
                case .connecting, .ended:
                    break
                }
                return
            }
        }
        // The client's buffer is full: stop reading the upstream until it drains.
        fromUpstream = .paused
        updateInterest()
    }

    func clientOutputDrained() {
        guard upstreamFD >= 0, !isEnded else { return }
        if fromUpstream == .paused && client.outputLow {
            fromUpstream = .open
            updateInterest()
            readUpstream()
        }
        forwardUpstreamEOFIfDone()
    }

    private func forwardUpstreamEOFIfDone() {
        if fromUpstream == .ended && client.outputEmpty {
            fromUpstream = .shut
            client.shutdownOutput()
        }
        finishIfDone()
    }

    private func finishIfDone() {
        if fromUpstream == .shut && fromClient == .shut { end() }
    }

    // MARK: interest, idle, end

    func updateInterest() {
        guard let id = registration else { return }
        var i: IOEvents = []
        if fromUpstream == .open { i.insert(.readable) }
        if !toUpstream.isEmpty { i.insert(.writable) }
        guard i != interest else { return }
        interest = i
        loop.modify(id, interest: i)
    }

    private func touch() { idle.touch(loop.now) }

    func armIdle() { client.setDeadline(at: deadline(idle.at)) }

    /// `at`, or the ClientHello's deadline when that comes first.
    private func deadline(_ at: UInt64) -> UInt64 {
        if case .pending(let until) = hello { return min(at, until) }
        return at
    }

    func jobDeadlinePassed() {
        guard !isEnded, upstreamFD >= 0 else { return }
        if case .pending(let until) = hello, loop.now >= until {
            context.journal.tunnelRefused(ProxyError.sniTimeout.logReason)
            end(reason: ProxyError.sniTimeout.logReason)
            return
        }
        switch idle.check(now: loop.now, excused: false) {
        case .rearm(let at): client.setDeadline(at: deadline(at))
        case .expired: end(reason: "idle-timeout")
        }
    }

    /// `flush`: the client still has to receive what was queued (a non-101 answer to an Upgrade).
    func end(reason: String? = nil, flush: Bool = false) {
        guard !isEnded else { return }
        stage = .ended
        record(reason)
        releaseUpstream()
        client.clearDeadline()
        if flush { client.closeAfterFlush() } else { client.abort() }
    }

    private func record(_ reason: String?) {
        context.journal.answered(Journal.Record(
            client: client.peerHost, head: head, status: logStatus, bytesIn: bytesIn, bytesOut: bytesOut,
            seconds: Double(loop.now - started) / 1e9, upstream: upstreamAddress, reason: reason,
            wouldDeny: wouldDeny ?? client.wouldDeny))
    }

    /// The client connection is closing.
    func abort() {
        if let t = transfer {
            transfer = nil
            context.driver.cancel(t)
        }
        if !isEnded && upstreamFD >= 0 { record("client-closed") }
        stage = .ended
        releaseUpstream()
    }
}
