import Glibc
import Synchronization
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// What a fill has made so far, shared with every request attached to it, on any loop: its phase, the body
/// bytes written to its file, whether it ended. Readers are woken (once per change they have not yet
/// seen) through the closure they attached with.
final class InFlight: Sendable {
    /// The head of a response being stored, as readers need it.
    struct Head: Sendable {
        var status: Int
        var reason: String
        var fields: [HeaderField]
        var varyNames: [String]
        /// The entry's name (key and variant hashes).
        var name: String
        var bodyOffset: Int64
        /// The body length, when the origin gave one.
        var length: UInt64?
        var requestTime: Int
        var responseTime: Int
    }

    enum Phase: Sendable {
        case awaitingHead
        /// The response is being stored: readers follow the file.
        case body(Head)
        /// Not storable: each waiting request is forwarded on its own.
        case pass
        /// The revalidated entry `name` is still good: its fields updated with the 304's.
        case notModified(name: String, fields: [HeaderField], requestTime: Int, responseTime: Int)
        /// Failed before a head: the error to answer with (or a stale entry to serve).
        case failed(ProxyError)
    }

    struct Snapshot {
        var phase: Phase
        var written: UInt64
        /// The fill ended; `complete`: with the whole body (otherwise the body is cut: readers end truncated).
        var done: Bool
        var complete: Bool
        /// Why a body was cut, for the readers' log lines: `upstream-aborted`, or `cache-write-failed` (a
        /// full disk).
        var cut: String?
    }

    private struct State {
        var phase = Phase.awaitingHead
        var written: UInt64 = 0
        var done = false
        var complete = false
        var cut: String?
        var waiters: [Int: @Sendable () -> Void] = [:]
        var armed: Set<Int> = []
        var nextID = 0
        /// The fill's file, kept open while anyone may still read it (a fill that failed unlinks it at
        /// once, and its readers still send what was written: their bodies end cut, not missing).
        var file: Int32 = -1
    }

    let key: String
    private let state = Mutex(State())

    init(key: String) { self.key = key }

    deinit {
        let fd = state.withLock { $0.file }
        if fd >= 0 { Glibc.close(fd) }
    }

    /// The fill hands over a descriptor of its file (closed with the last reference to this).
    func keep(file fd: Int32) { state.withLock { $0.file = fd } }

    /// A descriptor of the fill's file for a reader (its own: closed by the reader), or -1.
    func openFile() -> Int32 {
        state.withLock { $0.file >= 0 ? fcntl($0.file, F_DUPFD_CLOEXEC, 0) : -1 }
    }

    /// Attaches a reader; `wake` runs (on any thread) after a change it has not seen.
    func attach(_ wake: @escaping @Sendable () -> Void) -> Int {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            s.waiters[id] = wake
            s.armed.insert(id)
            return id
        }
    }

    func detach(_ id: Int) {
        state.withLock { s in
            s.waiters[id] = nil
            s.armed.remove(id)
        }
    }

    /// The state now; reader `id` is woken again by the next change.
    func snapshot(arm id: Int) -> Snapshot {
        state.withLock { s in
            if s.waiters[id] != nil { s.armed.insert(id) }
            return Snapshot(phase: s.phase, written: s.written, done: s.done, complete: s.complete, cut: s.cut)
        }
    }

    /// Changes the state and wakes the readers armed.
    func update(phase: Phase? = nil, written: UInt64? = nil, done: Bool = false, complete: Bool = false,
                cut: String? = nil) {
        let wake = state.withLock { s -> [@Sendable () -> Void] in
            if let p = phase { s.phase = p }
            if let w = written { s.written = w }
            if done {
                s.done = true
                s.complete = complete
                s.cut = cut
            }
            let w = s.armed.compactMap { s.waiters[$0] }
            s.armed.removeAll(keepingCapacity: true)
            return w
        }
        for w in wake { w() }
    }
}

/// One upstream fetch into the cache, for a miss or a revalidation: a libcurl transfer on the loop of the
/// request that started it, independent of any client: its body goes to a temporary file at the upstream's
/// pace, and every request attached to its `InFlight` (the one that started it included) reads from that
/// file at its own. A complete, valid body is renamed into the store; anything else is removed.
///
/// A response that may not be stored goes to the request that started the fill (`CacheJob.takeOver`), as
/// an ordinary exchange; the others are forwarded on their own.
final class CacheFill: TransferDelegate {
    let flight: InFlight
    let context: LoopContext
    let store: CacheStore
    /// The request as sent upstream: the client's, GET, without its range and conditionals.
    let head: RequestHead
    /// The stale entry being revalidated, if any.
    let stale: StoredEntry?
    weak var primary: CacheJob?
    private var transfer: Transfer?
    private var route: UpstreamRoute?
    private var builder = ResponseHeadBuilder()
    private var headLines: [[UInt8]] = []
    private var file: (path: String, fd: Int32)?
    private var stored: InFlight.Head?
    private var dechunker: ChunkedDecoder?
    private var written: UInt64 = 0
    /// False once the body outgrew --cache-max-object: it is still fed to the readers, not kept.
    private var keep = true
    /// Writing the file failed (a full disk): the body is cut for its readers.
    private var writeFailed = false
    private var requestTime = 0
    private var deadline: ActivityDeadline
    private var timer: TimerID?
    private var ended = false

    /// Fields of the client's request that the fill does not send: it fetches the whole, current response
    /// (the client's range and conditionals are answered from it).
    static let clientOnly: Set<String> = ["range", "if-range", "if-none-match", "if-modified-since", "if-match",
                                         "if-unmodified-since"]

    init(flight: InFlight, context: LoopContext, store: CacheStore, request: RequestHead, stale: StoredEntry?) {
        self.flight = flight
        self.context = context
        self.store = store
        var h = request
        h.method = "GET"
        h.fields.removeAll { CacheFill.clientOnly.contains($0.name.lowercased()) }
        head = h
        self.stale = stale
        deadline = ActivityDeadline(span: MonotonicClock.nanoseconds(context.config.readTimeout), now: context.loop.now)
    }

    static func now() -> Int { time(nil) }

    /// Starts the transfer; `client` names the forwarded-for client.
    func start(client: ClientSide) -> Bool {
        var parents = ParentAttempts()
        let settings = context.snapshot
        guard let route = context.router.route(head, parent: parents.current(settings.value.parentPool, now: context.loop.now))
        else { return false }
        self.route = route
        if let p = route.parent { settings.value.parentPool?.started(p) }
        var fields = UpstreamRequest.headerLines(head, settings: settings, client: client)
        if let e = stale {
            if let etag = CacheRules.field(e.fields, "etag") { fields.append("If-None-Match: \(etag)") }
            if let lm = CacheRules.field(e.fields, "last-modified") { fields.append("If-Modified-Since: \(lm)") }
        }
        let t = Transfer(easy: EasyHandle.make(from: context.easyPool), delegate: self)
        if let filter = context.policy.destinationFilter { t.setAddressFilter(filter) }
        UpstreamRequest.configure(t.easy, head: head, route: route, settings: settings, body: RequestBody(.none), fields: fields)
        guard context.driver.add(t) == .ok else { return false }
        transfer = t
        requestTime = CacheFill.now()
        context.fills[ObjectIdentifier(self)] = self
        armTimer()
        return true
    }

    // MARK: head

    func transferReceivedHeader(_ t: Transfer, _ line: UnsafeRawBufferPointer) -> Bool {
        deadline.touch(context.loop.now)
        guard stored == nil else { return true }  // trailers
        headLines.append(Array(line))
        switch builder.take(line) {
        case .more: return true
        case .invalid: return false
        case .complete:
            if builder.status < 200 {
                builder.reset()
                headLines = []
                return true
            }
            return decide(t)
        }
    }

    /// The final head arrived: refresh the stale entry (304), store the response, or hand it to the
    /// request that started the fill.
    private func decide(_ t: Transfer) -> Bool {
        let now = CacheFill.now()
        builder.addDate(HTTPDate.format(now))
        if let e = stale, builder.status == 304 {
            let fields = CacheRules.update(e.fields, with: builder.fields)
            _ = store.refresh(e, fields: fields, requestTime: requestTime, responseTime: now)
            flight.update(phase: .notModified(name: e.name, fields: fields, requestTime: requestTime, responseTime: now))
            return true
        }
        let status = builder.status
        if let why = CacheRules.unstorable(
            request: head, status: status, fields: builder.fields, maxObject: store.maxObject, responseTime: now) {
            pass(t, why: why)
            return true
        }
        if status == 304 {
            pass(t, why: "status")
            return true
        }
        guard let f = store.temporaryFile() else {
            pass(t, why: "store")
            return true
        }
        file = f
        flight.keep(file: fcntl(f.fd, F_DUPFD_CLOEXEC, 0))
        let framing = ResponseFraming.body(method: "GET", status: status, fields: builder.fields)
        var length: UInt64?
        switch framing {
        case .none: length = 0
        case .length(let n): length = n
        case .chunked: dechunker = ChunkedDecoder()
        case .close: break
        }
        var fields = HopByHop.filter(builder.fields, connectionTokens: HopByHop.connectionTokens(builder.fields))
        fields.removeAll { $0.isNamed("content-length") }
        let vary = CacheRules.varyNames(fields)
        let name = CacheStore.name(key: flight.key, varyNames: vary, of: head)
        let pre = EntryFormat.preamble(key: flight.key, requestTime: requestTime, responseTime: now, varyNames: vary,
                                       status: status, reason: builder.reason, fields: fields)
        guard CacheStore.writeAll(f.fd, pre) else {
            discard()
            pass(t, why: "store")
            return true
        }
        let h = InFlight.Head(status: status, reason: builder.reason, fields: fields, varyNames: vary, name: name,
                              bodyOffset: Int64(pre.count), length: length, requestTime: requestTime,
                              responseTime: now)
        stored = h
        flight.update(phase: .body(h))
        return true
    }

    /// Not storable: the request that started the fill takes the transfer over as an ordinary exchange
    /// (or, when it asked for a range, is forwarded as it came); the fill ends.
    private func pass(_ t: Transfer, why: String) {
        let lines = headLines
        end()
        flight.update(phase: .pass, done: true)
        if let p = primary, p.takeOver(t, route: route, headLines: lines, why: why) {
            transfer = nil
            return
        }
        // Nobody to give it to: cancel (the driver frees nothing until libcurl returned).
        transfer = nil
        context.driver.cancel(t)
    }

    // MARK: body

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
        deadline.touch(context.loop.now)
        guard let f = file else { return .accepted }
        context.journal.cacheBytes(fromUpstream: bytes.count)
        var ok = true
        if dechunker != nil {
            do throws(HTTPError) {
                _ = try dechunker!.decode(bytes) { piece in
                    if ok { ok = write(piece, to: f.fd) }
                }
            } catch {
                ok = false
            }
        } else {
            ok = write(bytes, to: f.fd)
        }
        guard ok else { return .abort }
        flight.update(written: written)
        return .accepted
    }

    private func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> Bool {
        guard CacheStore.writeAll(fd, bytes) else {  // a full disk: the fill fails
            writeFailed = true
            return false
        }
        written += UInt64(bytes.count)
        if written > store.maxObject { keep = false }
        if let n = stored?.length, written > n { return false }
        return true
    }

    // MARK: end

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        let failure = code == .ok ? nil : ProxyError.upstream(code, t.easy.errorMessage(for: code), proxy: route?.proxyDisplay)
        if let p = route?.parent, let pool = context.config.parentPool {
            if code == .ok { pool.succeeded(p) } else { pool.failed(p, now: context.loop.now, failedOver: false) }
        }
        context.driver.recycle(t, into: context.easyPool)
        transfer = nil
        finish(failure, refused: t.addressRefused)
    }

    private func finish(_ failure: ProxyError?, refused: Bool = false) {
        guard !ended else { return }
        if let h = stored, let f = file {
            let whole = failure == nil && (h.length == nil || h.length == written) && (dechunker?.isDone ?? true)
            if whole && keep {
                Glibc.close(f.fd)
                file = nil
                _ = store.commit(temporary: f.path, name: h.name)
            } else {
                discard()
            }
            end()
            flight.update(written: written, done: true, complete: whole,
                          cut: whole ? nil : writeFailed ? "cache-write-failed" : "upstream-aborted")
            return
        }
        end()
        if case .notModified = flight.snapshot(arm: -1).phase {
            flight.update(done: true, complete: true)
        } else {
            let e = refused ? ProxyError.destinationDenied : (failure ?? ProxyError(status: 502, message: "upstream answered nothing usable", logReason: "upstream-other"))
            flight.update(phase: .failed(e), done: true)
        }
    }

    /// The temporary file goes (readers that opened it keep reading what was written).
    private func discard() {
        guard let f = file else { return }
        Glibc.close(f.fd)
        unlink(f.path)
        file = nil
    }

    /// The fill is over: later requests look in the store again.
    private func end() {
        guard !ended else { return }
        ended = true
        if let tm = timer { context.loop.cancel(tm) }
        timer = nil
        store.finished(key: flight.key, flight)
        let me = ObjectIdentifier(self)
        context.loop.deferToNextTurn { [context] in context.fills[me] = nil }
    }

    // MARK: read timeout

    private func armTimer() {
        timer = context.loop.schedule(at: deadline.at) { [weak self] in self?.timerFired() }
    }

    private func timerFired() {
        timer = nil
        guard let t = transfer, !ended else { return }
        switch deadline.check(now: context.loop.now, excused: false) {
        case .rearm:
            armTimer()
        case .expired:
            transfer = nil
            context.driver.cancel(t)
            finish(.readTimeout)
        }
    }

    /// The proxy is stopping: the fill ends without storing.
    func cancel() {
        guard let t = transfer else { return }
        transfer = nil
        context.driver.cancel(t)
        finish(ProxyError(status: 503, message: "the proxy is stopping", logReason: "shutdown"))
    }
}
