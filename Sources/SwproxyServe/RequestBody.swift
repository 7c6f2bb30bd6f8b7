import SwproxyCurl
import SwproxyHTTP
import SwproxyLoop

/// The request body on its way from the client to libcurl's read callback: delimited by `Content-Length`,
/// or chunked (decoded here; libcurl frames it again upstream), and bounded by `--max-body-size` as it
/// grows. Input is taken through the `ClientSide` seam as libcurl asks for it, so a slow origin holds the
/// client back by the connection's watermarks.
/// - SeeAlso: RFC 9112 §6.3, §7.1
struct RequestBody {
    enum State {
        /// Everything was handed to libcurl (or there never was a body).
        case complete
        /// `Content-Length`: this much is still to come.
        case remaining(UInt64)
        case chunked(ChunkedDecoder)
        /// A chunked body grew past --max-body-size: the upload was aborted for that.
        case tooLarge
        /// The client's chunked framing was malformed: the upload was aborted for that.
        case invalid(HTTPError)
    }

    /// Whether the request has a body at all (a `Content-Length: 0` one included).
    let present: Bool
    private(set) var state: State
    /// Decoded chunk data not yet handed to libcurl.
    private var decoded = ByteBuffer()
    /// Body bytes handed to libcurl.
    private(set) var bytesIn: Int64 = 0

    init(_ framing: BodyFraming) {
        switch framing {
        case .none:
            present = false
            state = .complete
        case .contentLength(let n):
            present = true
            state = n == 0 ? .complete : .remaining(n)
        case .chunked:
            present = true
            state = .chunked(ChunkedDecoder())
        }
    }

    /// Whether the client sent the whole body (an origin that answers early leaves the rest unread, and the
    /// connection cannot carry another request then).
    var isComplete: Bool {
        if case .complete = state { return decoded.isEmpty }
        return false
    }

    /// Why the upload was aborted by the proxy, if it was.
    var failure: ProxyError? {
        switch state {
        case .tooLarge: return .bodyTooLarge
        case .invalid(let e): return ProxyError.from(e)
        default: return nil
        }
    }

    /// Fills libcurl's buffer from the client's input: bytes, the end, a pause until more input arrives, or
    /// an abort (the client went away mid-body, its framing broke, or the body grew too large).
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, from client: ClientSide, policy: Policy) -> UploadChunk {
        switch state {
        case .complete:
            if decoded.isEmpty { return .end }
        case .tooLarge, .invalid:
            return .abort
        case .remaining(let left):
            var n = 0
            client.takeInput { b in
                n = Int(min(UInt64(buffer.count), UInt64(b.count), left))
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[0..<n]))
                return n
            }
            if n > 0 {
                bytesIn += Int64(n)
                state = left == UInt64(n) ? .complete : .remaining(left - UInt64(n))
                return .bytes(n)
            }
        case .chunked(var decoder):
            if decoded.isEmpty {
                var failed: HTTPError?
                client.takeInput { b in
                    do throws(HTTPError) {
                        return try decoder.decode(b) { decoded.append($0) }
                    } catch {
                        failed = error
                        return 0
                    }
                }
                if let e = failed {
                    state = .invalid(e)
                    return .abort
                }
                state = decoder.isDone ? .complete : .chunked(decoder)
            }
            if !policy.admitsBody(of: UInt64(bytesIn) + UInt64(decoded.readableBytes)) {
                state = .tooLarge
                return .abort
            }
        }
        if !decoded.isEmpty {
            let n = min(buffer.count, decoded.readableBytes)
            decoded.withReadableBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            decoded.consume(n)
            bytesIn += Int64(n)
            return .bytes(n)
        }
        if case .complete = state { return .end }
        return client.inputEnded ? .abort : .pause  // the client went away mid-body
    }
}
