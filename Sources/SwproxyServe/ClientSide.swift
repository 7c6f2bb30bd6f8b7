import SwproxyHTTP
import SwproxyLoop

/// The one seam between a client connection and the job running on it (an exchange, a CONNECT tunnel, an
/// Upgrade relay). The job sees the client through `ClientSide` only: it takes input, sends, asks whether
/// the output is full, pauses reading, sets its deadline and says how it ended. It never touches the
/// connection's buffers or reaches through it into the loop: what it needs of the loop comes in its
/// `LoopContext`.
protocol ClientSide: AnyObject {
    /// The client, as the PROXY header named it or as the TCP peer.
    var peer: SocketAddress? { get }
    /// `peer` as text, made once (`-` when unknown).
    var peerHost: String { get }
    /// Under `--audit`: the reason the host rules would have refused the current request, for its log line.
    var wouldDeny: String? { get }

    /// Bytes from the client waiting to be taken.
    var inputBuffered: Int { get }
    /// The client closed its sending side (what is buffered is all there will be).
    var inputEnded: Bool { get }
    /// Hands the buffered input to `body`, which returns how many bytes it took.
    func takeInput(_ body: (UnsafeRawBufferPointer) -> Int)
    /// Stops (true) or resumes reading from the client: backpressure on its uploads.
    func pauseReading(_ paused: Bool)

    func send(_ bytes: UnsafeRawBufferPointer)
    func send(_ bytes: [UInt8])
    /// Sends up to `count` bytes of file `fd` from `offset` (advanced) with `sendfile(2)`, once what is
    /// queued went out: `.wouldBlock` is followed by `clientOutputDrained`; `.unsupported` on a TLS
    /// connection (the caller reads and sends instead).
    func sendFile(_ fd: Int32, offset: inout Int64, count: Int) -> SendFileResult
    /// Above the high watermark: producers pause until `clientOutputDrained`.
    var outputFull: Bool { get }
    /// At or below the low watermark: a paused producer may resume.
    var outputLow: Bool { get }
    var outputEmpty: Bool { get }
    /// The connection is gone: nothing sent arrives.
    var isClosed: Bool { get }
    /// Passes an end of stream on: shuts the client socket's sending side (a tunnel's half-close).
    func shutdownOutput()

    /// The job's one deadline (its upstream read timeout or idle time): `jobDeadlinePassed` when it passes.
    func setDeadline(at: UInt64)
    func clearDeadline()

    /// The whole response was sent; `keepAlive`: the connection may carry another request.
    func finished(keepAlive: Bool)
    /// Nothing was sent yet: answer with this error and end the connection once it is written.
    func failed(_ error: ProxyError, head: RequestHead?)
    /// Ends the connection once what is queued was written.
    func closeAfterFlush()
    /// Ends the connection now (a response cut short: the client sees it truncated).
    func abort()
}

enum SendFileResult: Equatable {
    case sent(Int)
    case wouldBlock
    case unsupported
    case closed
}

/// What runs on a client connection, as the connection sees it.
protocol ClientJob: AnyObject {
    func start()
    /// New input, or the client's EOF (`ClientSide.inputEnded`).
    func clientInputChanged()
    /// The client's output buffer drained.
    func clientOutputDrained()
    /// The deadline the job set passed.
    func jobDeadlinePassed()
    /// The connection is closing: release everything, report nothing back.
    func abort()
}
