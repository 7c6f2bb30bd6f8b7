import Glibc
import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// One forwarded request: turns the parsed head into a libcurl transfer on the loop's multi handle, streams
/// the request body from the client through the read callback and the response back through the write
/// callback, with backpressure both ways, and re-frames the response for this client.
/// - SeeAlso: RFC 9110 §7.6 (intermediaries), RFC 9112 §6 (framing); DESIGN.md "Data flow of serve"
final class ProxyExchange: TransferDelegate {
    unowned let connection: ClientConnection
    let head: RequestHead
    private var transfer: Transfer?
    private var route: UpstreamRoute?
    private let started: UInt64
    private var response = ResponseHeadBuilder()
    /// The response head, held until the first body bytes so both leave in one write.
    private var pendingHead: [UInt8]?
    private(set) var responseStarted = false
    /// How the response body is framed towards the client (`ResponseFraming.relay`).
    private var framing = ResponseFraming.Relay.none
    private var dechunker = ChunkedDecoder()
    private var status = 0
    private var bytesOut: Int64 = 0
    private var bytesIn: Int64 = 0
    private var finished = false
    private var keepAlive: Bool
    // Request body
    private var bodyRemaining: UInt64 = 0
    private var bodyDecoder: ChunkedDecoder?
    private var decoded = ByteBuffer()
    private var bodyDone = true
    /// A chunked body grew past --max-body-size: the transfer was aborted for that.
    private var bodyTooLarge = false
    /// The client's chunked body was malformed: the transfer was aborted for that.
    private var bodyInvalid: HTTPError?
    // Upstream read timeout
    private var lastActivity: UInt64

    init(connection: ClientConnection, head: RequestHead) {
        self.connection = connection
        self.head = head
        started = connection.worker.loop.now
        lastActivity = started
        keepAlive = head.keepAlive
    }

    var config: ServeConfiguration { connection.config }

    func start() {
        guard let route = connection.worker.router.route(head) else { return }
        self.route = route
        let easy = EasyHandle.make(from: connection.worker.easyPool)
        let hasBody: Bool
        switch head.framing {
        case .none:
            hasBody = false
        case .contentLength(let n):
            hasBody = true
            bodyRemaining = n
            bodyDone = n == 0
        case .chunked:
            hasBody = true
            bodyDecoder = ChunkedDecoder()
            bodyDone = false
        }
        let t = Transfer(easy: easy, delegate: self, upload: hasBody)
        transfer = t
        if let filter = connection.worker.policy.destinationFilter { t.setAddressFilter(filter) }
        easy.set(.url, route.url)
        easy.set(.requestTarget, route.requestTarget)
        easy.set(.proxy, route.proxy)  // "" = direct: never a proxy from the environment
        easy.set(.noProxy, "")  // and no getenv("no_proxy") per request
        if route.proxyTunnel { easy.set(.httpProxyTunnel, true) }
        // CURL_HTTP_VERSION_1_1 = 2, _2TLS = 4 (h2 by ALPN for https://), _2_PRIOR_KNOWLEDGE = 5
        easy.set(.httpVersion, config.upstreamH2C ? 5 : config.upstreamHTTP2 ? 4 : 2)
        if config.upstreamH2C || config.upstreamHTTP2 {
            // Wait for a connection that may multiplex rather than open one per request.
            easy.set(.pipeWait, true)
        }
        if let ca = config.upstreamCACert {
            easy.set(.caInfo, ca)
            easy.set(.proxyCAInfo, ca)
        }
        if config.upstreamInsecure { easy.disableTLSVerification() }
        easy.set(.httpTransferDecoding, false)
        easy.set(.httpContentDecoding, false)
        easy.set(.bufferSize, 102_400)
        easy.set(.tcpNoDelay, true)
        easy.set(.connectTimeoutMilliseconds, max(1, Int(config.connectTimeout * 1000)))
        // Only the client's own Expect reaches libcurl (an empty `Expect:` line stops libcurl adding one). An
        // origin that ignores it never sends 100: libcurl then sends the body after this wait, as the client
        // itself does (curl waits 1 s); a longer wait would hold such uploads until --read-timeout.
        easy.set(.expect100TimeoutMilliseconds, 1000)
        if head.method == "HEAD" {
            easy.set(.noBody, true)
        } else if head.method != "GET" || hasBody {
            easy.set(.customRequest, head.method)
        }
        if hasBody {
            easy.set(.upload, true)
            if case .contentLength(let n) = head.framing { easy.set(.inFileSize, Int64(n)) } else { easy.set(.inFileSize, -1) }
        }
        easy.set(.httpHeader, upstreamHeaders())
        if connection.worker.driver.add(t) != .ok {
            fail(ProxyError(status: 502, message: "could not start the upstream transfer", logReason: "internal"))
            return
        }
        armReadTimer()
    }

    /// The forwarded fields (UpstreamHead), plus empty `Accept:`/`Expect:` lines that stop libcurl adding its
    /// own when the client sent none.
    private func upstreamHeaders() -> [String] {
        let fields = UpstreamHead(config: config, head: head, client: connection.peer, clientHost: connection.peerHost)
            .fields()
        var out = UpstreamHead.curlLines(fields)
        if head.field("accept") == nil { out.append("Accept:") }
        if head.field("expect") == nil { out.append("Expect:") }
        return out
    }

    // MARK: request body (client → libcurl)

    func transferNeedsBody(_ t: Transfer, into buffer: UnsafeMutableRawBufferPointer) -> UploadChunk {
        touch()
        let conn = connection
        if let _ = bodyDecoder {
            if decoded.isEmpty && !bodyDone && !conn.input.isEmpty {
                do {
                    let used = try conn.input.withReadableBytes { b in
                        try bodyDecoder!.decode(b) { decoded.append($0) }
                    }
                    conn.input.consume(used)
                    conn.inputConsumed()
                    if bodyDecoder!.isDone { bodyDone = true }
                } catch {
                    keepAlive = false
                    bodyInvalid = error as? HTTPError ?? HTTPError(400, "invalid chunked body")
                    return .abort
                }
            }
            if let max = config.maxBodySize, UInt64(bytesIn) + UInt64(decoded.readableBytes) > max {
                bodyTooLarge = true
                keepAlive = false
                return .abort
            }
            if !decoded.isEmpty {
                let n = min(buffer.count, decoded.readableBytes)
                decoded.withReadableBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                decoded.consume(n)
                bytesIn += Int64(n)
                return .bytes(n)
            }
            if bodyDone { return .end }
        } else {
            if bodyRemaining == 0 {
                bodyDone = true
                return .end
            }
            if !conn.input.isEmpty {
                let n = Int(min(UInt64(buffer.count), UInt64(conn.input.readableBytes), bodyRemaining))
                conn.input.withReadableBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                conn.input.consume(n)
                conn.inputConsumed()
                bodyRemaining -= UInt64(n)
                bytesIn += Int64(n)
                if bodyRemaining == 0 { bodyDone = true }
                return .bytes(n)
            }
        }
        if conn.clientEOF { return .abort }  // the client went away mid-body
        return .pause
    }

    /// More client input arrived (or EOF): a paused upload may continue.
    func clientInputChanged() {
        guard let t = transfer, !finished else { return }
        if t.sendPaused {
            connection.worker.loop.deferToNextTurn { [weak self] in self?.transfer?.resumeSend() }
        }
    }

    // MARK: response (libcurl → client)

    func transferReceivedHeader(_ t: Transfer, _ line: UnsafeRawBufferPointer) -> Bool {
        switch response.take(line) {
        case .more:
            return true
        case .invalid:
            return false
        case .complete:
            touch()  // once per head, not per line: reading the clock showed in profiles
            if response.status < 200 {
                relayInterim()
                response.reset()
                return true
            }
            startResponse()
            return true
        }
    }

    private func relayInterim() {
        // 1xx to HTTP/1.1 clients only (RFC 9110 §15.2); 101 needs the Upgrade path, which is not relayed.
        guard head.version == .http11, response.status != 101 else { return }
        var fields = HopByHop.filter(response.fields, connectionTokens: HopByHop.connectionTokens(response.fields))
        if config.via { fields.append(HeaderField("Via", "1.1 \(config.viaName)")) }
        connection.send(HeadWriter.response(status: response.status, reason: response.reason, fields: fields))
    }

    private func startResponse() {
        status = response.status
        let originFields = response.fields
        var fields = HopByHop.filter(originFields, connectionTokens: HopByHop.connectionTokens(originFields))
        let body = ResponseFraming.body(method: head.method, status: status, fields: originFields)
        let d = ResponseFraming.relay(
            body, clientVersion: head.version, keepAlive: keepAlive, draining: connection.worker.draining)
        framing = d.relay
        keepAlive = d.keepAlive
        if d.chunked { fields.append(HeaderField("Transfer-Encoding", "chunked")) }
        config.addVia(to: &fields)
        if let c = d.connection { fields.append(HeaderField("Connection", c)) }
        let bytes = HeadWriter.response(status: status, reason: response.reason, fields: fields)
        // A body follows: the head goes out with its first bytes, in one write.
        if framing == .none { connection.send(bytes) } else { pendingHead = bytes }
        responseStarted = true
    }

    /// Sends the head held by `startResponse`, if any.
    private func flushPendingHead() {
        if let h = pendingHead {
            pendingHead = nil
            connection.send(h)
        }
    }

    /// Sends body bytes; the pending head and the chunk framing go in the same write when the piece is small
    /// (one send per small response, not three).
    private func emit(_ bytes: UnsafeRawBufferPointer, chunked: Bool) {
        let head = pendingHead
        pendingHead = nil
        if head == nil && !chunked {
            connection.send(bytes)
            return
        }
        let sizeLine: [UInt8] = chunked ? Array(String(bytes.count, radix: 16).utf8) + [13, 10] : []
        if bytes.count <= 32768 {
            var out = head ?? []
            out.reserveCapacity(out.count + sizeLine.count + bytes.count + 2)
            out += sizeLine
            out.append(contentsOf: bytes)
            if chunked { out += [13, 10] }
            connection.send(out)
        } else {
            if let h = head { connection.send(h) }
            if chunked { connection.send(sizeLine) }
            connection.send(bytes)
            if chunked { connection.send([13, 10]) }
        }
    }

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition {
        touch()
        if !responseStarted { startResponse() }
        if connection.isClosed { return .abort }
        if connection.outputFull { return .pause }
        switch framing {
        case .none:
            break
        case .passThrough, .closeDelimited:
            emit(bytes, chunked: false)
        case .chunkEncode:
            emit(bytes, chunked: true)
        case .dechunk:
            flushPendingHead()
            do {
                _ = try dechunker.decode(bytes) { connection.send($0) }
            } catch {
                return .abort
            }
        }
        bytesOut += Int64(bytes.count)
        return .accepted
    }

    /// The client's outbound buffer drained: resume a paused download.
    func clientOutputDrained() {
        guard let t = transfer, t.receivePaused, !finished, connection.outputLow else { return }
        touch()
        // Not from inside a libcurl callback: the held data is re-delivered synchronously.
        connection.worker.loop.deferToNextTurn { [weak self] in self?.transfer?.resumeReceive() }
    }

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        let upstream = t.easy.info(.primaryIP)
        let detail = t.easy.errorMessage(for: code)
        let refused = t.addressRefused
        connection.worker.driver.recycle(t, into: connection.worker.easyPool)  // for the next request on this loop
        transfer = nil
        cancelReadTimer()
        guard !finished else { return }
        finished = true
        if code == .ok {
            if !responseStarted { startResponse() }
            flushPendingHead()
            if framing == .chunkEncode { connection.send(Array("0\r\n\r\n".utf8)) }
            if !bodyDone { keepAlive = false }  // the origin answered before reading the whole body
            connection.log(head: head, status: status, bytesOut: bytesOut, error: nil, bytesIn: bytesIn,
                           upstream: upstream, started: started)
            connection.exchangeFinished(keepAlive: keepAlive)
            return
        }
        if bodyTooLarge && !responseStarted {
            fail(.bodyTooLarge)
            return
        }
        if let e = bodyInvalid {
            // Whatever the origin answered, this connection cannot be trusted any more.
            if responseStarted { connection.close() } else { fail(ProxyError.from(e)) }
            return
        }
        if refused && !responseStarted {
            fail(.destinationDenied)
            return
        }
        if responseStarted {
            // Too late for an error status: close, so the client sees a truncated body.
            connection.log(head: head, status: status, bytesOut: bytesOut, error: "upstream-aborted", bytesIn: bytesIn,
                           upstream: upstream, started: started)
            connection.close()
        } else {
            fail(ProxyError.upstream(code, detail, proxy: route?.proxyDisplay))
        }
    }

    private func fail(_ e: ProxyError) {
        finished = true
        connection.fail(e, method: head.method, target: head.rawTarget, version: head.version.text)
    }

    /// The connection is closing: drop the transfer.
    func abort() {
        cancelReadTimer()
        guard let t = transfer else { return }
        transfer = nil
        finished = true
        connection.worker.driver.cancel(t)
    }

    // MARK: upstream read timeout

    private func touch() { lastActivity = connection.worker.loop.now }

    /// The upstream read timeout rides on the connection's one deadline (no timer per request).
    private func armReadTimer() {
        connection.setDeadline(.upstreamRead, at: lastActivity &+ MonotonicClock.nanoseconds(config.readTimeout))
    }

    private func cancelReadTimer() {
        if case .exchanging = connection.state { connection.clearDeadline() }
    }

    func readTimerFired() {
        guard !finished, let t = transfer else { return }
        let now = connection.worker.loop.now
        // Waiting on the client (slow reader or slow uploader) is not the upstream's fault.
        if t.receivePaused || t.sendPaused || now < lastActivity &+ MonotonicClock.nanoseconds(config.readTimeout) {
            if t.receivePaused || t.sendPaused { touch() }
            armReadTimer()
            return
        }
        abort()
        if responseStarted {
            connection.log(head: head, status: status, bytesOut: bytesOut, error: "upstream-timeout", started: started)
            connection.close()
        } else {
            connection.fail(.readTimeout, method: head.method, target: head.rawTarget, version: head.version.text)
        }
    }
}
