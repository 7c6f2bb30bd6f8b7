import SwproxyHTTP
import SwproxyLoop

/// The Upgrade (WebSocket) side of a tunnel: the origin's response head is read off the relay, a 101 turns
/// the connection into a byte relay, any other answer is relayed with `Connection: close` and ends it.
/// - SeeAlso: RFC 9110 §7.8, §15.2.2
extension Tunnel {
    /// Upstream bytes while the response head (or a non-101 body) is being relayed.
    func upgradeResponseBytes(_ bytes: UnsafeRawBufferPointer) {
        switch stage {
        case .relaying, .connecting, .ended:
            client.send(bytes)
        case .awaitingUpgradeResponse:
            responseHead.append(bytes)
            let end = responseHead.withReadableBytes { Tunnel.headEnd($0) }
            guard let end else {
                if responseHead.readableBytes > config.limits.headerBytes { failUpgrade("response head too large") }
                return
            }
            var builder = ResponseHeadBuilder()
            var ok = true
            responseHead.withReadableBytes { b in
                var start = 0
                var i = 0
                while i < end && ok {
                    if b[i] == 10 {
                        ok = builder.take(UnsafeRawBufferPointer(rebasing: b[start...i])) != .invalid
                        start = i + 1
                    }
                    i += 1
                }
            }
            guard ok, builder.status >= 101 else {
                failUpgrade("invalid response head")
                return
            }
            responseHead.consume(end)
            startUpgradeResponse(builder)
            let rest = responseHead
            responseHead = ByteBuffer()
            if !rest.isEmpty { rest.withReadableBytes { upgradeResponseBytes($0) } }
        case .finalResponse(let remaining, var chunked):
            var take = bytes.count
            var done = false
            if let r = remaining {
                take = Int(min(UInt64(bytes.count), r))
                stage = .finalResponse(remaining: r - UInt64(take), chunked: nil)
                done = r == UInt64(take)
            } else if chunked != nil {
                take = (try? chunked!.decode(bytes) { _ in }) ?? bytes.count
                stage = .finalResponse(remaining: nil, chunked: chunked)
                done = chunked!.isDone
            }
            client.send(UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
            if done { end(flush: true) }
        }
    }

    private func startUpgradeResponse(_ r: ResponseHeadBuilder) {
        logStatus = r.status
        let fields = ResponseFraming.upgradeAnswerFields(status: r.status, origin: r.fields, via: config.viaEntry)
        client.send(HeadWriter.response(status: r.status, reason: r.reason, fields: fields))
        if r.status == 101 {
            context.journal.tunnelOpened(method: head.method, status: 101, seconds: Double(loop.now - started) / 1e9)
            stage = .relaying
            client.pauseReading(false)
            clientInputChanged()
            return
        }
        // Not switching: this answer ends the connection (the upstream one cannot carry another request of
        // ours, and the client's next bytes would otherwise reach the origin unchecked).
        let originFields = r.fields
        switch ResponseFraming.body(method: head.method, status: r.status, fields: originFields) {
        case .none:
            end(flush: true)
        case .chunked:
            stage = .finalResponse(remaining: nil, chunked: ChunkedDecoder())
        case .length(let n?):
            stage = .finalResponse(remaining: n, chunked: nil)
            if n == 0 { end(flush: true) }
        case .length(nil), .close:
            stage = .finalResponse(remaining: nil, chunked: nil)  // until the upstream closes
        }
    }

    func failUpgrade(_ why: String) {
        releaseUpstream()
        stage = .ended
        client.clearDeadline()
        client.failed(ProxyError(status: 502, message: "upstream sent an \(why)", logReason: "upstream-error"), head: head)
    }

    /// The offset just past the first CRLFCRLF, if any.
    static func headEnd(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 3..<b.count where b[i] == 10 && b[i - 1] == 13 && b[i - 2] == 10 && b[i - 3] == 13 { return i + 1 }
        return nil
    }
}
