import Glibc
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// A reference that may cross threads only to come back to the loop that made it.
private struct LoopBound<T: AnyObject>: @unchecked Sendable {
    weak var value: T?
}

/// A GET or HEAD on the cache path (`--cache-dir`): looked up in the store, then served from a fresh entry,
/// revalidated, fetched by a `CacheFill` (or attached to the one running for its key), or forwarded as an
/// ordinary `ProxyExchange` when the cache cannot answer it. Bodies go from the entry's file (or the fill's)
/// to the client with `sendfile(2)` on the loop, paced by the client socket; TLS clients and chunked
/// answers go through a read and a send.
/// - SeeAlso: RFC 9111; RFC 9211 (Cache-Status); DESIGN.md "Data flow of serve"
final class CacheJob: ClientJob {
    unowned let client: ClientSide
    let context: LoopContext
    let head: RequestHead
    let store: CacheStore
    let key: String
    private let started: UInt64
    /// An ordinary exchange, when the request is forwarded as it is.
    private var inner: ClientJob?
    /// The fill this request follows, and its waiter id.
    private var flight: InFlight?
    private var waiter = -1
    /// This request started the fill it follows.
    private var primary = false
    /// The stale entry a revalidation started from.
    private var stale: StoredEntry?
    private var revalidationByClient = false
    /// The access log's cache status, and the Cache-Status member sent.
    private var label = "MISS"
    /// What kind of miss started a fill: `fwd=uri-miss`, or `fwd=vary-miss` when other variants are stored.
    private var miss = "fwd=uri-miss"
    private var feed: Feed?
    /// An answer sent whole, waiting to be reported finished: on a later turn (a pipelined request behind
    /// it starts from the loop, not from inside this one), and once the output is below its high watermark.
    private var pendingFinish: (status: Int, bytes: Int64, keepAlive: Bool, reason: String?)?

    /// What is being sent: a body in a file, from `offset` of the file, bytes `next..<end` of the body.
    private struct Feed {
        var fd: Int32
        /// Owned (opened on a fill's temporary file): closed at the end. An entry's is the entry's.
        var owned: Bool
        var entry: StoredEntry?
        var bodyOffset: Int64
        var next: UInt64
        /// One past the last body byte to send; nil until the length is known (a fill without one).
        var end: UInt64?
        /// Body bytes in the file so far, and whether there will be more.
        var available: UInt64
        var done: Bool
        var complete: Bool
        var cut: String?
        var chunked: Bool
        var keepAlive: Bool
        var sent: Int64 = 0
        var status: Int
    }

    init(client: ClientSide, context: LoopContext, head: RequestHead, store: CacheStore, key: String) {
        self.client = client
        self.context = context
        self.head = head
        self.store = store
        self.key = key
        started = context.loop.now
    }

    /// The cache key of a request, or nil when it has no http(s) upstream URL.
    static func key(_ head: RequestHead, reverse: ReverseBase?) -> String? {
        switch head.target {
        case .absolute(let scheme, let host, let port, let path):
            return CacheKey.of(scheme: scheme, host: host, port: port, pathAndQuery: path)
        case .origin(let path):
            guard let r = reverse else { return nil }
            return CacheKey.of(scheme: r.scheme, host: r.host, port: r.port, pathAndQuery: r.join(path))
        default:
            return nil
        }
    }

    private var now: Int { CacheFill.now() }

    // MARK: the decision

    func start() {
        if CacheRules.requestBypass(head) != nil {
            forward(status: "fwd=bypass", label: "BYPASS")
            return
        }
        let onlyIfCached = CacheDirectives(head.fields).has("only-if-cached")
        let (entry, others) = store.lookup(key: key, request: head)
        if let e = entry {
            if head.field("authorization") != nil && !CacheRules.sharedWithAuthorization(e.fields) {
                forward(status: "fwd=bypass", label: "BYPASS")
                return
            }
            let age = e.age(now: now)
            let lifetime = e.lifetime
            switch CacheRules.reuse(request: head, directives: e.directives, lifetime: lifetime, age: age) {
            case .fresh:
                label = "HIT"
                serve(entry: e, age: age, status: "hit; ttl=\(lifetime - age)")
                return
            case .revalidate(let byClient):
                if onlyIfCached {
                    answerOnlyIfCached()
                    return
                }
                if head.method == "HEAD" {
                    forward(status: byClient ? "fwd=request" : "fwd=stale", label: "MISS")
                    return
                }
                stale = e
                revalidationByClient = byClient
                fill(stale: e)
                return
            }
        }
        if onlyIfCached {
            answerOnlyIfCached()
            return
        }
        miss = others ? "fwd=vary-miss" : "fwd=uri-miss"
        if head.method == "HEAD" {
            forward(status: miss, label: "MISS")
            return
        }
        fill(stale: nil)
    }

    private func answerOnlyIfCached() {
        label = "MISS"
        context.journal.cacheRequest(label)
        client.failed(ProxyError(status: 504, message: "not in the cache (only-if-cached)", logReason: "cache-miss",
                                 extraFields: [HeaderField("Cache-Status", "swproxy; fwd=miss; detail=only-if-cached")]),
                      head: head)
    }

    /// Forwards the request as an ordinary exchange, nothing stored.
    private func forward(status: String, label: String) {
        self.label = label
        context.journal.cacheRequest(label)
        let x = ProxyExchange(client: client, context: context, head: head)
        x.cache = (status: "swproxy; " + status, label: label)
        inner = x
        x.start()
    }

    /// Starts the fill for this key, or attaches to the one already running.
    private func fill(stale: StoredEntry?) {
        let mine = InFlight(key: key)
        if let running = store.join(key: key, or: mine) {
            label = "COALESCED"
            attach(running)
            return
        }
        let f = CacheFill(flight: mine, context: context, store: store, request: head, stale: stale)
        f.primary = self
        primary = true
        attach(mine)
        guard f.start(client: client) else {
            detach()
            store.finished(key: key, mine)
            mine.update(phase: .failed(ProxyError(status: 502, message: "could not start the upstream transfer", logReason: "internal")), done: true)
            client.failed(ProxyError(status: 502, message: "could not start the upstream transfer", logReason: "internal"), head: head)
            return
        }
    }

    private func attach(_ f: InFlight) {
        flight = f
        let me = LoopBound(value: self)
        let loop = context.loop.handle
        waiter = f.attach { loop.execute { me.value?.progressed() } }
        progressed()
    }

    private func detach() {
        if let f = flight { f.detach(waiter) }
        flight = nil
    }

    /// The fill this request follows changed.
    private func progressed() {
        guard let f = flight else { return }
        let s = f.snapshot(arm: waiter)
        if feed != nil {
            feed!.available = s.written
            if s.done {
                feed!.done = true
                feed!.complete = s.complete
                feed!.cut = s.cut
                detach()
            }
            pump()
            return
        }
        switch s.phase {
        case .awaitingHead:
            return
        case .pass:
            // The one that started it took the transfer over (`takeOver`); the others go on their own.
            detach()
            if inner == nil { forward(status: forwardReason, label: "MISS") }
        case .failed(let e):
            detach()
            if let st = stale, !CacheRules.mayNotServeStale(st.directives), !revalidationByClient {
                label = "STALE"
                serve(entry: st, age: st.age(now: now), status: "hit; detail=stale-upstream-unreachable")
            } else {
                context.journal.cacheRequest(label)
                client.failed(e, head: head)
            }
        case .notModified(let name, let fields, _, _):
            detach()
            guard let e = store.open(name: name) ?? stale,
                CacheStore.name(key: key, varyNames: e.varyNames, of: head) == e.name
            else {
                forward(status: "fwd=vary-miss", label: label)
                return
            }
            if label != "COALESCED" { label = "REVALIDATED" }
            let how = revalidationByClient ? "fwd=request" : "fwd=stale"
            serve(entry: e, fields: fields, age: 0, status: "\(how); fwd-status=304\(label == "COALESCED" ? "; collapsed" : "")")
        case .body(let h):
            guard CacheStore.name(key: key, varyNames: h.varyNames, of: head) == h.name else {
                detach()
                forward(status: "fwd=vary-miss", label: label)
                return
            }
            let fd = f.openFile()
            guard fd >= 0 else {
                detach()
                forward(status: forwardReason, label: label)
                return
            }
            let status = member(stored: h)
            let length = h.length ?? (s.done && s.complete ? s.written : nil)
            begin(fd: fd, owned: true, entry: nil, bodyOffset: h.bodyOffset, status: h.status, reason: h.reason,
                  fields: h.fields, length: length, age: 0, cacheStatus: status)
            if feed != nil {
                feed!.available = s.written
                feed!.done = s.done
                feed!.complete = s.complete
                feed!.cut = s.cut
                if s.done { detach() }
                pump()
            }
        }
    }

    /// Why this request went forward: a miss, a stale entry, or the client's wish.
    private var forwardReason: String { stale == nil ? miss : (revalidationByClient ? "fwd=request" : "fwd=stale") }

    /// The Cache-Status member of an answer from a fill that stores `h`: the request that started it has
    /// the origin's status, one that joined it says `collapsed`.
    private func member(stored h: InFlight.Head) -> String {
        label == "COALESCED" ? "\(forwardReason); collapsed; stored" : "\(forwardReason); fwd-status=\(h.status); stored"
    }

    /// The request that started the fill takes over a response that may not be stored, as an ordinary
    /// exchange; false when it asked for a range (it is then forwarded as it came: the fill asked for the whole).
    /// `why`: the reason it may not be stored; one that is the request's own (its `Authorization`) makes it
    /// a bypass.
    func takeOver(_ t: Transfer, route: UpstreamRoute?, headLines: [[UInt8]], why: String) -> Bool {
        detach()
        let bypass = why == "authorization"
        let status = bypass ? "fwd=bypass" : forwardReason
        label = bypass ? "BYPASS" : "MISS"
        guard let route, head.field("range") == nil, !client.isClosed else {
            if !client.isClosed {
                context.loop.deferToNextTurn { [weak self, label] in self?.forward(status: status, label: label) }
            }
            return false
        }
        context.journal.cacheRequest(label)
        let x = ProxyExchange(client: client, context: context, head: head)
        x.cache = (status: "swproxy; " + status, label: label)
        inner = x
        x.adopt(t, route: route, headLines: headLines)
        return true
    }

    // MARK: serving

    /// Serves a complete entry with `fields` (its own, or those a 304 updated).
    /// Answers from entry `e`, with `fields` instead of its stored ones when given (those a 304 updated).
    private func serve(entry e: StoredEntry, fields updated: [HeaderField]? = nil, age: Int, status: String) {
        let fields = updated ?? e.fields
        if head.field("authorization") != nil && !CacheRules.sharedWithAuthorization(fields) && label == "COALESCED" {
            forward(status: "fwd=bypass", label: "BYPASS")
            return
        }
        begin(fd: e.fd, owned: false, entry: e, bodyOffset: e.bodyOffset, status: e.status, reason: e.reason,
              fields: fields, headPrefix: updated == nil ? e.hitHeadPrefix : nil, length: e.bodyLength, age: age,
              cacheStatus: status)
        if feed != nil {
            feed!.available = e.bodyLength
            feed!.done = true
            feed!.complete = true
            pump()
        }
    }

    /// Sends the head for a stored response and sets up its body's feed. The client's conditionals and
    /// range are answered here, when the length is known.
    private func begin(fd: Int32, owned: Bool, entry: StoredEntry?, bodyOffset: Int64, status: Int, reason: String,
                       fields stored: [HeaderField], headPrefix: [UInt8]? = nil, length: UInt64?, age: Int,
                       cacheStatus: String) {
        context.journal.cacheRequest(label)
        var code = status
        var reasonText = reason
        var first: UInt64 = 0
        var end = length
        var bodyless = head.method == "HEAD" || ResponseFraming.body(method: "GET", status: status, fields: []) == .none
        var notModified = false
        var contentRange: String?
        if status == 200 || status == 203, CacheRules.notModified(request: head, fields: stored) {
            code = 304
            reasonText = ""
            bodyless = true
            notModified = true
        } else if status == 200, let n = length {
            switch CacheRules.range(request: head, fields: stored, length: n) {
            case .whole: break
            case .part(let a, let b):
                code = 206
                reasonText = ""
                first = a
                end = b + 1
                contentRange = "bytes \(a)-\(b)/\(n)"
            case .unsatisfiable:
                code = 416
                reasonText = ""
                bodyless = true
                end = 0
                contentRange = "bytes */\(n)"
            }
        } else if status == 200, head.field("range") != nil, length == nil {
            // The range of a body whose length is not known yet: the whole (allowed: RFC 9110 §14.2).
        }
        let clientLength: UInt64? = code == 416 ? 0 : end.map { $0 - first }
        let body: ResponseFraming.Body = bodyless ? .none : (clientLength.map { .length($0) } ?? .close)
        let d = ResponseFraming.relay(body, clientVersion: head.version, keepAlive: head.keepAlive, draining: context.draining)
        let via = context.snapshot.viaEntry
        var out: [UInt8]
        if code == status, code != 204, let n = clientLength, let prefix = headPrefix,
            let h = CacheJob.hitHead(prefix: prefix, age: age, cacheStatus: cacheStatus, length: n, decision: d, via: via)
        {
            out = h
        } else {
            // Field by field: the stored fields without their Age, then Age, Cache-Status (merged into a
            // stored one), a 304's fields dropped, Content-Range, Content-Length.
            var fields = stored
            fields.removeAll { $0.isNamed("age") }
            fields.append(HeaderField("Age", String(max(0, age))))
            if let i = fields.firstIndex(where: { $0.isNamed("cache-status") }) {
                fields[i].value += ", swproxy; " + cacheStatus
            } else {
                fields.append(HeaderField("Cache-Status", "swproxy; " + cacheStatus))
            }
            if notModified { fields.removeAll { CacheJob.notIn304.contains($0.name.lowercased()) } }
            if let r = contentRange { fields.append(HeaderField("Content-Range", r)) }
            if code != 304, let n = clientLength, !(code == 204) { fields.append(HeaderField("Content-Length", String(n))) }
            out = HeadWriter.response(status: code, reason: reasonText,
                                      fields: ResponseFraming.clientFields(fields, decision: d, via: via))
        }
        // A small stored body goes out with its head in one write (a read of the file instead of a second
        // system call to send it).
        if !bodyless, entry != nil, let n = clientLength, n <= CacheJob.smallBody, d.relay == .passThrough {
            let head = out.count
            var got = -1
            if let b = entry?.body, b.count >= Int(first + n) {
                out += b[Int(first)..<Int(first + n)]
                got = Int(n)
            } else {
                out += [UInt8](repeating: 0, count: Int(n))
                got = out.withUnsafeMutableBytes { b in
                    pread(fd, b.baseAddress! + head, Int(n), off_t(bodyOffset + Int64(first)))
                }
            }
            if got == Int(n) {
                if owned { Glibc.close(fd) }
                client.send(out)
                context.journal.cacheBytes(fromCache: Int(n))
                complete(status: code, bytes: Int64(n), keepAlive: d.keepAlive)
                return
            }
            out.removeLast(Int(n))
        }
        client.send(out)
        if bodyless || client.isClosed {
            if owned { Glibc.close(fd) }
            detach()
            if !client.isClosed { complete(status: code, bytes: 0, keepAlive: d.keepAlive) }
            return
        }
        feed = Feed(fd: fd, owned: owned, entry: entry, bodyOffset: bodyOffset, next: first, end: end, available: 0,
                    done: false, complete: false, chunked: d.relay == .chunkEncode, keepAlive: d.keepAlive, status: code)
    }

    /// The fields a hit replaces or merges into: a head whose stored fields have them is built field by field.
    private static let mergedIntoByHits = ["age", "cache-status", "via"]

    /// `StoredEntry.hitHeadPrefix`: the status line and the client's share of the stored fields, in the order
    /// `begin` puts them (the stored `Age` is replaced); nil when they hold a field a hit merges into.
    static func hitHeadPrefix(status: Int, reason: String, fields: [HeaderField]) -> [UInt8]? {
        let kept = HopByHop.filter(fields.filter { !$0.isNamed("age") }, connectionTokens: HopByHop.connectionTokens(fields))
        if kept.contains(where: { f in mergedIntoByHits.contains(where: { f.isNamed($0) }) }) { return nil }
        var out = HeadWriter.response(status: status, reason: reason, fields: kept)
        out.removeLast(2)
        return out
    }

    /// The head of an answer with the stored status, from the entry's fixed prefix: the same bytes as
    /// `HeadWriter.response(… clientFields(…))` of the stored fields with `Age`, `Cache-Status` and
    /// `Content-Length` added, without building them field by field. Nil when the proxy chunks the body.
    static func hitHead(prefix: [UInt8], age: Int, cacheStatus: String, length: UInt64, decision d: ResponseFraming.Decision,
                        via: String?) -> [UInt8]? {
        guard !d.chunked else { return nil }
        var out = prefix
        out.reserveCapacity(prefix.count + 96 + cacheStatus.utf8.count + (via?.utf8.count ?? 0))
        func line(_ name: StaticString, _ value: String) {
            out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: value.utf8)
            out.append(13)
            out.append(10)
        }
        line("Age: ", String(max(0, age)))
        line("Cache-Status: ", "swproxy; " + cacheStatus)
        line("Content-Length: ", String(length))
        if let via { line("Via: ", via) }
        if let c = d.connection { line("Connection: ", c) }
        out.append(13)
        out.append(10)
        return out
    }

    /// Bodies up to this size are sent with their head in one write.
    static let smallBody: UInt64 = 32 << 10

    static let notIn304: Set<String> = ["content-length", "content-range", "content-type", "content-encoding"]

    /// Sends what the file holds of the body, as fast as the client takes it; ends the response when all
    /// of it went, or cuts it when the fill failed.
    private func pump() {
        guard var f = feed, !client.isClosed else { return }
        if f.end == nil && f.done && f.complete { f.end = f.available }
        while true {
            let limit = min(f.available, f.end ?? f.available)
            if f.next >= limit { break }
            if client.outputFull { break }
            let count = Int(min(limit - f.next, 1 << 20))
            if !f.chunked {
                var off = f.bodyOffset + Int64(f.next)
                switch client.sendFile(f.fd, offset: &off, count: count) {
                case .sent(let n):
                    f.next += UInt64(n)
                    f.sent += Int64(n)
                    context.journal.cacheBytes(fromCache: n)
                    continue
                case .wouldBlock:
                    feed = f
                    return
                case .closed:
                    return  // abort() closed the feed's descriptor
                case .unsupported:
                    break
                }
            }
            let buf = context.readBuffer
            let want = min(count, buf.count)
            let n = pread(f.fd, buf.baseAddress, want, off_t(f.bodyOffset + Int64(f.next)))
            guard n > 0 else {
                feed = f
                client.abort()
                return
            }
            let piece = UnsafeRawBufferPointer(rebasing: buf[0..<n])
            if f.chunked {
                client.send(Array((String(n, radix: 16) + "\r\n").utf8))
                client.send(piece)
                client.send([13, 10])
            } else {
                client.send(piece)
            }
            if client.isClosed { return }  // abort() closed the feed's descriptor
            f.next += UInt64(n)
            f.sent += Int64(n)
            context.journal.cacheBytes(fromCache: n)
        }
        feed = f
        let allSent = f.end.map { f.next >= $0 } ?? false
        if allSent {
            if f.chunked { client.send(Array("0\r\n\r\n".utf8)) }
            closeFeed()
            complete(status: f.status, bytes: f.sent, keepAlive: f.keepAlive && (f.done || f.end != nil))
        } else if f.done && f.next >= f.available {
            // The fill ended short: the client must see a cut body, never a complete-looking one.
            finishFeed(reason: f.cut ?? "upstream-aborted")
            client.abort()
        }
    }

    private func finishFeed(reason: String? = nil) {
        guard let f = feed else { return }
        closeFeed()
        record(status: f.status, bytes: f.sent, reason: reason)
    }

    private func closeFeed() {
        guard let f = feed else { return }
        feed = nil
        if f.owned { Glibc.close(f.fd) }
        detach()
    }

    /// The whole answer was handed to the connection: it is reported finished on a later turn, so a
    /// pipelined request behind it never runs inside this one's stack, and only once the output is below
    /// its high watermark (a client that pipelines hits and reads nothing fills one buffer, not memory).
    private func complete(status: Int, bytes: Int64, keepAlive: Bool) {
        pendingFinish = (status, bytes, keepAlive, nil)
        // Held strongly (a weak reference would give every hit a side table): `abort`, which the connection
        // calls whenever it closes, clears `pendingFinish`, so a job whose client went away does nothing here.
        context.loop.deferToNextTurn { [self] in finishPending() }
    }

    private func finishPending() {
        guard let p = pendingFinish, !client.isClosed, !client.outputFull else { return }  // drained: again
        pendingFinish = nil
        record(status: p.status, bytes: p.bytes, reason: p.reason)
        client.finished(keepAlive: p.keepAlive)
    }

    private func record(status: Int, bytes: Int64, reason: String? = nil) {
        context.journal.answered(Journal.Record(
            client: client.peerHost, head: head, status: status, bytesOut: bytes,
            seconds: Double(context.loop.now - started) / 1e9, reason: reason, wouldDeny: client.wouldDeny, cache: label))
    }

    // MARK: ClientJob

    func clientInputChanged() { inner?.clientInputChanged() }

    func clientOutputDrained() {
        if let i = inner {
            i.clientOutputDrained()
            return
        }
        if pendingFinish != nil {
            finishPending()
            return
        }
        pump()
    }

    func jobDeadlinePassed() { inner?.jobDeadlinePassed() }

    func abort() {
        detach()
        if let f = feed, f.owned { Glibc.close(f.fd) }
        feed = nil
        pendingFinish = nil
        inner?.abort()
        inner = nil
    }
}
