import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// One forwarded request, as the shell around its parts: the head becomes a libcurl transfer on the loop's
/// multi handle (`UpstreamRequest`); the request body streams from the client through the read callback
/// (`RequestBody`), the response back through the header and write callbacks (`ExchangeResponse`), with
/// backpressure both ways through the `ClientSide` seam; the upstream read timeout is an
/// `ActivityDeadline` on the connection's one deadline. The exchange is running while it holds a transfer.
/// - SeeAlso: RFC 9110 §7.6 (intermediaries), RFC 9112 §6 (framing); DESIGN.md "Data flow of serve"
final class ProxyExchange: TransferDelegate, ClientJob {
    unowned let client: ClientSide
    let context: LoopContext
    let head: RequestHead
    /// The configuration this request started under.
    private let settings: ConfigSnapshot
    private var transfer: Transfer?
    private var route: UpstreamRoute?
    /// The profile of this exchange's handle, when it may be kept configured for another request.
    private var plain: UpstreamRequest.PlainProfile?
    private let started: UInt64
    private var body: RequestBody
    private var response: ExchangeResponse
    private var readDeadline: ActivityDeadline
    /// With several `--upstream-proxy` parents: which is tried now.
    private var parents = ParentAttempts()
    /// On the cache path (`CacheJob`): the `Cache-Status` member and the log's cache status.
    var cache: (status: String, label: String)? {
        didSet { response.cacheStatus = cache?.status }
    }

    init(client: ClientSide, context: LoopContext, head: RequestHead) {
        self.client = client
        self.context = context
        self.head = head
        settings = context.snapshot
        started = context.loop.now
        body = RequestBody(head.framing)
        response = ProxyExchange.freshResponse(head, settings)
        readDeadline = ActivityDeadline(span: MonotonicClock.nanoseconds(settings.value.readTimeout), now: started)
    }

    private static func freshResponse(_ head: RequestHead, _ settings: ConfigSnapshot) -> ExchangeResponse {
        ExchangeResponse(method: head.method, clientVersion: head.version, keepAlive: head.keepAlive, via: settings.viaEntry)
    }

    /// Takes over a transfer a `CacheFill` started and found not storable: its head lines so far are
    /// replayed, the rest arrives here.
    func adopt(_ t: Transfer, route: UpstreamRoute, headLines: [[UInt8]]) {
        self.route = route
        transfer = t
        t.delegate = self
        client.setDeadline(at: readDeadline.at)
        for line in headLines {
            let ok = line.withUnsafeBytes { transferReceivedHeader(t, $0) }
            if !ok { break }
        }
    }

    func start() {
        let parent = parents.current(settings.value.parentPool, now: context.loop.now)
        guard let route = context.router.route(head, parent: parent) else { return }
        self.route = route
        if let p = route.parent { settings.value.parentPool?.started(p) }
        let fields = UpstreamRequest.headerLines(head, settings: settings, client: client)
        // The current configuration's policy sets the address filter: a handle is kept for its profile only
        // when the exchange runs under that configuration too.
        plain = settings === context.snapshot
            ? UpstreamRequest.plainProfile(head, route: route, settings: settings, body: body) : nil
        let t: Transfer
        if let p = plain, let kept = context.takePlain(p) {
            kept.reuse(delegate: self)
            UpstreamRequest.reconfigure(kept.easy, route: route, fields: fields)
            t = kept
        } else {
            let easy = EasyHandle.make(from: context.easyPool)
            t = Transfer(easy: easy, delegate: self, upload: body.present)
            if let filter = context.policy.destinationFilter { t.setAddressFilter(filter) }
            UpstreamRequest.configure(easy, head: head, route: route, settings: settings, body: body, fields: fields)
        }
        guard context.driver.add(t) == .ok else {
            context.driver.recycle(t, into: context.easyPool)
            client.failed(ProxyError(status: 502, message: "could not start the upstream transfer", logReason: "internal"),
                          head: head)
            return
        }
        transfer = t
        client.setDeadline(at: readDeadline.at)
    }

    // MARK: request body (client → libcurl)

    func transferNeedsBody(_ t: Transfer, into buffer: UnsafeMutableRawBufferPointer) -> UploadChunk {
        touch()
        return body.fill(buffer, from: client, policy: context.policy)
    }

    /// More client input arrived (or EOF): a paused upload may continue.
    func clientInputChanged() {
        guard let t = transfer, t.sendPaused else { return }
        context.loop.deferToNextTurn { [weak self] in self?.transfer?.resumeSend() }
    }

    // MARK: response (libcurl → client)

    func transferReceivedHeader(_ t: Transfer, _ line: UnsafeRawBufferPointer) -> Bool {
        let client = self.client
        switch response.headerLine(line, draining: context.draining, send: { client.send($0) }) {
        case .more: return true
        case .invalid: return false
        case .head:
            touch()  // once per head, not per line: reading the clock showed in profiles
            if response.started, let store = settings.value.cache { invalidate(store) }
            return true
        }
    }

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
        touch()
        if client.isClosed { return .abort }
        if client.outputFull { return .pause }
        // libcurl hands one read of the socket (up to CURLOPT_BUFFERSIZE) to the write callback in pieces of
        // CURL_MAX_WRITE_SIZE: a full piece is followed by the rest of its read, so it is held and the read goes
        // to the client in one send, not one per 16 KiB. Held bytes go out with the first shorter piece, at
        // the held limit, at the end of the loop's turn, or when the transfer ends.
        if bytes.count == ProxyExchange.libcurlPiece || !held.isEmpty, response.takesCoalescedBody {
            held.append(contentsOf: bytes)
            if bytes.count == ProxyExchange.libcurlPiece && held.count < ProxyExchange.heldLimit {
                if !heldFlushArmed {
                    heldFlushArmed = true
                    context.loop.deferToNextTurn { [weak self] in self?.sendHeld() }
                }
                return .accepted
            }
            sendHeld()
            return client.isClosed ? .abort : .accepted
        }
        let client = self.client
        return response.body(bytes, draining: context.draining, send: { client.send($0) }) ? .accepted : .abort
    }

    /// CURL_MAX_WRITE_SIZE (curl.h): the largest piece libcurl gives its write callback.
    static let libcurlPiece = 16384
    /// Held body bytes are sent once this many are held: one whole read of CURLOPT_BUFFERSIZE.
    static let heldLimit = UpstreamRequest.receiveBuffer
    /// Body bytes from libcurl not yet handed to `response` (see `transferReceivedBody`).
    private var held: [UInt8] = []
    private var heldFlushArmed = false

    private func sendHeld() {
        heldFlushArmed = false
        guard !held.isEmpty else { return }
        defer { held.removeAll(keepingCapacity: true) }
        guard !client.isClosed else { return }
        let client = self.client
        // Not a dechunked body (`takesCoalescedBody`): relaying cannot fail.
        _ = held.withUnsafeBytes { response.body($0, draining: context.draining, send: { client.send($0) }) }
    }

    /// The client's outbound buffer drained: resume a paused download.
    func clientOutputDrained() {
        guard let t = transfer, t.receivePaused, client.outputLow else { return }
        touch()
        // Not from inside a libcurl callback: the held data is re-delivered synchronously.
        context.loop.deferToNextTurn { [weak self] in self?.transfer?.resumeReceive() }
    }

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        sendHeld()  // what arrived goes out first, whatever the ending
        let upstream = t.easy.info(.primaryIP)
        let refused = t.addressRefused
        let ending = response.ending(ok: code == .ok, body: body, refused: refused) {
            ProxyError.upstream(code, t.easy.errorMessage(for: code), proxy: route?.proxyDisplay)
        }
        let failOver = parentOutcome(t, code, ending)
        // For the next request on this loop: as it is for one of the same profile, else reset.
        if let p = plain { context.givePlain(t, p) } else { context.driver.recycle(t, into: context.easyPool) }
        transfer = nil
        if failOver {
            // A fresh start on the next parent: nothing of this attempt's response reached the client, and
            // none of it (a partial head) may leak into the next one.
            parents.advance()
            response = ProxyExchange.freshResponse(head, settings)
            response.cacheStatus = cache?.status
            readDeadline = ActivityDeadline(span: MonotonicClock.nanoseconds(settings.value.readTimeout), now: context.loop.now)
            start()
            return
        }
        client.clearDeadline()
        switch ending {
        case .complete(let keepAlive):
            let client = self.client
            response.finish(draining: context.draining, send: { client.send($0) })
            record(error: nil, upstream: upstream)
            client.finished(keepAlive: keepAlive)
        case .answer(let e):
            client.failed(e, head: head)
        case .truncated(let reason):
            record(error: reason, upstream: upstream)
            client.abort()
        case .dropped:
            client.abort()
        }
    }

    /// Tells the parent pool how its parent did; true when the request is to go to the next parent: the
    /// parent itself failed, nothing reached the client, no request body was taken from it, another parent
    /// is left, and the request cannot have reached the origin (a failed connection, or an idempotent
    /// method).
    private func parentOutcome(_ t: Transfer, _ code: CurlCode, _ ending: ExchangeResponse.Ending) -> Bool {
        guard let p = route?.parent, let pool = settings.value.parentPool else { return false }
        guard code != .ok else {
            pool.succeeded(p)
            return false
        }
        guard ParentPool.isParentFailure(code, connectCode: t.easy.info(.httpConnectCode)) else { return false }
        var unanswered = false
        if case .answer = ending { unanswered = true }
        let unsent = code == .couldntConnect || code == .couldntResolveProxy || code == .proxy
            || (code == .operationTimedOut && t.easy.info(.connectTime) == 0)
        let again = unanswered && body.bytesIn == 0 && parents.hasNext
            && (unsent || ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"].contains(head.method))
        pool.failed(p, now: context.loop.now, failedOver: again)
        return again
    }

    /// An unsafe method's success invalidates what the cache holds for its target and for the same-origin
    /// `Location` and `Content-Location`.
    /// - SeeAlso: RFC 9111 §4.4
    private func invalidate(_ store: CacheStore) {
        guard !["GET", "HEAD", "OPTIONS", "TRACE"].contains(head.method), (200..<400).contains(response.status),
            let key = CacheJob.key(head, reverse: settings.value.reverse)
        else { return }
        store.invalidate(key: key)
        for name in ["location", "content-location"] {
            guard let v = response.builder.field(name), let other = CacheKey.resolve(v, against: key) else { continue }
            store.invalidate(key: other)
        }
    }

    private func record(error: String?, upstream: String?) {
        context.journal.answered(Journal.Record(
            client: client.peerHost, head: head, status: response.status, bytesIn: body.bytesIn,
            bytesOut: response.bytesOut, seconds: Double(context.loop.now - started) / 1e9, upstream: upstream,
            reason: error, wouldDeny: client.wouldDeny, cache: cache?.label))
    }

    /// The connection is closing: drop the transfer.
    func abort() {
        guard let t = transfer else { return }
        transfer = nil
        context.driver.cancel(t)
    }

    // MARK: upstream read timeout

    private func touch() { readDeadline.touch(context.loop.now) }

    func jobDeadlinePassed() {
        guard let t = transfer else { return }
        // Waiting on the client (slow reader or slow uploader) is not the upstream's fault.
        switch readDeadline.check(now: context.loop.now, excused: t.receivePaused || t.sendPaused) {
        case .rearm(let at):
            client.setDeadline(at: at)
        case .expired:
            abort()
            if response.started {
                record(error: "upstream-timeout", upstream: nil)
                client.abort()
            } else {
                client.failed(.readTimeout, head: head)
            }
        }
    }
}
