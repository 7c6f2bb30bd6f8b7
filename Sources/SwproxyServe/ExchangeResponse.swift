import SwproxyHTTP

/// The response side of an exchange, as a value: libcurl's header lines and body pieces go in, the bytes
/// for the client come out through a sink, and when the transfer ends `ending` says how the exchange ends.
/// The framing decision is `ResponseFraming`'s (shared with the Upgrade path); this type applies it.
///
///     awaitingHead ──(1xx: relayed to HTTP/1.1 clients, dropped for 1.0)──▶ awaitingHead
///     awaitingHead ──(final head)──▶ started(relay, head held) ──(body)──▶ started(relay) ──(finish)──▶ done
/// - SeeAlso: RFC 9110 §15.2 (1xx), RFC 9112 §6.3 (framing), §7.1 (chunked)
struct ExchangeResponse {
    enum State {
        /// No final head yet.
        case awaitingHead
        /// The final head was built. `pending` holds it until the first body bytes, so both leave in one write.
        case started(ResponseFraming.Relay, pending: [UInt8]?)
        case done
    }

    /// A header line's effect.
    enum HeaderStep: Equatable {
        case more
        case invalid
        /// A whole head (interim or final) was taken.
        case head
    }

    /// How the exchange ends, from libcurl's result and what already went to the client.
    enum Ending: Equatable {
        case complete(keepAlive: Bool)
        /// Nothing was sent: answer with this error.
        case answer(ProxyError)
        /// Too late for an error status: close, so the client sees a truncated body; logged with the reason.
        case truncated(reason: String)
        /// The client's own body broke after the response began: close without a word.
        case dropped
    }

    let method: String
    let clientVersion: HTTPVersion
    /// This proxy's `Via` name, nil with --no-via.
    let via: String?
    /// On the cache path: this cache's `Cache-Status` member (`swproxy; fwd=uri-miss`), to which the
    /// origin's status is added.
    var cacheStatus: String?
    private(set) var state = State.awaitingHead

    /// Whether body bytes may be handed over in larger pieces than libcurl delivers them: the head is out and
    /// the body is relayed as it comes (a dechunked one is decoded piece by piece, and may fail).
    var takesCoalescedBody: Bool {
        guard case .started(let relay, nil) = state else { return false }
        return relay != .dechunk
    }
    private(set) var builder = ResponseHeadBuilder()
    private var dechunker = ChunkedDecoder()
    private(set) var status = 0
    private(set) var bytesOut: Int64 = 0
    /// Whether the connection may carry another request (the client's wish, then the framing's).
    private(set) var keepAlive: Bool

    init(method: String, clientVersion: HTTPVersion, keepAlive: Bool, via: String?) {
        self.method = method
        self.clientVersion = clientVersion
        self.keepAlive = keepAlive
        self.via = via
    }

    var started: Bool {
        if case .awaitingHead = state { return false }
        return true
    }

    /// One header line from libcurl (interim heads included).
    mutating func headerLine(_ line: UnsafeRawBufferPointer, draining: Bool, send: ([UInt8]) -> Void) -> HeaderStep {
        guard case .awaitingHead = state else { return .more }  // trailers: not relayed
        switch builder.take(line) {
        case .more:
            return .more
        case .invalid:
            return .invalid
        case .complete:
            if builder.status < 200 {
                if let interim = interimHead() { send(interim) }
                builder.reset()
            } else {
                builder.addDate(HTTPDate.current)
                start(draining: draining, send: send)
            }
            return .head
        }
    }

    /// A 1xx goes to HTTP/1.1 clients only (RFC 9110 §15.2); 101 needs the Upgrade path, so it is not relayed.
    private func interimHead() -> [UInt8]? {
        guard clientVersion == .http11, builder.status != 101 else { return nil }
        let fields = ResponseFraming.clientFields(builder.fields, decision: nil, via: via)
        return HeadWriter.response(status: builder.status, reason: builder.reason, fields: fields)
    }

    /// The final head: framing decided (`ResponseFraming`), the fields the client gets.
    private mutating func start(draining: Bool, send: ([UInt8]) -> Void) {
        status = builder.status
        let body = ResponseFraming.body(method: method, status: status, fields: builder.fields)
        let d = ResponseFraming.relay(body, clientVersion: clientVersion, keepAlive: keepAlive, draining: draining)
        keepAlive = d.keepAlive
        var fields = ResponseFraming.clientFields(builder.fields, decision: d, via: via)
        if let c = cacheStatus {
            let member = c.contains("fwd=") && !c.contains("fwd=bypass") ? c + "; fwd-status=\(status)" : c
            if let i = fields.firstIndex(where: { $0.isNamed("cache-status") }) {
                fields[i].value += ", " + member
            } else {
                fields.append(HeaderField("Cache-Status", member))
            }
        }
        let bytes = HeadWriter.response(status: status, reason: builder.reason, fields: fields)
        if d.relay == .none {
            send(bytes)
            state = .started(.none, pending: nil)
        } else {
            state = .started(d.relay, pending: bytes)  // a body follows: the head goes out with its first bytes
        }
    }

    /// Body bytes from libcurl. False: the origin's chunked framing broke (for an HTTP/1.0 client, which
    /// gets it decoded).
    mutating func body(_ bytes: UnsafeRawBufferPointer, draining: Bool, send: (UnsafeRawBufferPointer) -> Void) -> Bool {
        if case .awaitingHead = state { start(draining: draining) { b in b.withUnsafeBytes(send) } }
        guard case .started(let relay, let pending) = state else { return true }
        if pending != nil { state = .started(relay, pending: nil) }
        switch relay {
        case .none:
            break
        case .passThrough, .closeDelimited:
            ExchangeResponse.emit(bytes, head: pending, chunked: false, send: send)
        case .chunkEncode:
            ExchangeResponse.emit(bytes, head: pending, chunked: true, send: send)
        case .dechunk:
            pending?.withUnsafeBytes(send)
            do throws(HTTPError) {
                _ = try dechunker.decode(bytes) { send($0) }
            } catch {
                return false
            }
        }
        bytesOut += Int64(bytes.count)
        return true
    }

    /// The transfer completed: whatever of the response is still held goes out, with the last chunk when
    /// the proxy chunks.
    mutating func finish(draining: Bool, send: (UnsafeRawBufferPointer) -> Void) {
        if case .awaitingHead = state { start(draining: draining) { b in b.withUnsafeBytes(send) } }
        guard case .started(let relay, let pending) = state else { return }
        pending?.withUnsafeBytes(send)
        if relay == .chunkEncode { ExchangeResponse.lastChunk.withUnsafeBytes(send) }
        state = .done
    }

    private static let lastChunk = Array("0\r\n\r\n".utf8)

    /// Sends body bytes; the held head and the chunk framing go in the same write when the piece is small
    /// (one send per small response, not three).
    private static func emit(_ bytes: UnsafeRawBufferPointer, head: [UInt8]?, chunked: Bool,
                             send: (UnsafeRawBufferPointer) -> Void)
    {
        if head == nil && !chunked {
            send(bytes)
            return
        }
        let sizeLine: [UInt8] = chunked ? Array(String(bytes.count, radix: 16).utf8) + [13, 10] : []
        if bytes.count <= 32768 {
            var out = head ?? []
            out.reserveCapacity(out.count + sizeLine.count + bytes.count + 2)
            out += sizeLine
            out.append(contentsOf: bytes)
            if chunked { out += [13, 10] }
            out.withUnsafeBytes(send)
        } else {
            head?.withUnsafeBytes(send)
            sizeLine.withUnsafeBytes(send)
            send(bytes)
            if chunked { [UInt8]([13, 10]).withUnsafeBytes(send) }
        }
    }

    /// How the exchange ends. `ok`: libcurl finished the transfer; `body`: the request body's state;
    /// `refused`: the destination address was refused at connect time; `upstream`: the error for a failed
    /// transfer (made only when needed).
    func ending(ok: Bool, body: RequestBody, refused: Bool, upstream: () -> ProxyError) -> Ending {
        if ok { return .complete(keepAlive: keepAlive && body.isComplete) }
        switch body.state {
        case .tooLarge where !started:
            return .answer(.bodyTooLarge)
        case .invalid:
            // Whatever the origin answered, this connection cannot be trusted any more.
            return started ? .dropped : .answer(body.failure!)
        default:
            break
        }
        if started { return .truncated(reason: "upstream-aborted") }
        return .answer(refused ? .destinationDenied : upstream())
    }
}
