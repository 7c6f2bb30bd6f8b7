/// The life of one client connection, as a value: the I/O shell (`ClientConnection`) reports what happened
/// (bytes arrived, a head was parsed, the job finished, output drained, the deadline passed …), the machine
/// moves to its next state and answers with the one action the shell performs. It reads no clock and touches
/// no socket: times are the loop's monotonic nanoseconds, handed in, so tests drive it with a manual clock.
///
///     awaitingProxyHeader ─▶ readingHead ─▶ exchanging / tunnelling ─▶ readingHead (keep-alive) …
///                │               │                    │
///                └───────────────┴────────────────────┴─▶ closingAfterFlush ─▶ lingering ─▶ closed
///
/// One deadline at a time: the header timeout (from accept, or from a later head's first byte), the
/// keep-alive idle time, the lingering close, or the running job's own (upstream read, tunnel idle).
/// - SeeAlso: RFC 9112 §9.3 (persistence), §9.6 (tear-down)
struct ConnectionMachine {
    struct Timeouts: Equatable {
        var header: UInt64
        var idle: UInt64
        var linger: UInt64
    }

    enum State: Equatable {
        /// `--proxy-protocol`: the first bytes must be a PROXY header.
        case awaitingProxyHeader
        /// Between requests, or inside a head; `since` is when the current head's first byte was seen.
        case readingHead(since: UInt64?)
        case exchanging
        /// A CONNECT tunnel or an Upgrade relay.
        case tunnelling
        /// An answer that ends the connection is queued; reading has stopped until it is written.
        case closingAfterFlush
        /// Our side is shut; what the client still sends is read and dropped until the linger time passes.
        case lingering
        case closed
    }

    enum Deadline: Equatable {
        case none
        case header(UInt64)
        case idle(UInt64)
        case linger(UInt64)
        /// The running job's deadline: the job decides what passing it means.
        case job(UInt64)

        var at: UInt64? {
            switch self {
            case .none: return nil
            case .header(let t), .idle(let t), .linger(let t), .job(let t): return t
            }
        }
    }

    enum Action: Equatable {
        case none
        case parseProxyHeader
        case parseHead
        /// A head was parsed: decide what runs on it (`jobStarted`, or an answer of the proxy's own).
        case dispatch
        /// New input or EOF for the running job.
        case deliverInput
        /// The output buffer drained: the running job may produce again.
        case deliverDrained
        /// The deadline moved: the loop timer must fire by then.
        case arm(UInt64)
        /// The head did not arrive in time: answer 408 (then `closeAfterFlush`).
        case answerHeaderTimeout
        /// The job's deadline passed.
        case jobDeadline
        /// Between requests: resume reading and wait, the idle timer armed.
        case awaitRequest(idleUntil: UInt64)
        /// Resume reading and parse the request already buffered (pipelined).
        case parseNext
        /// Stop reading: the last answer is being written.
        case stopReading
        /// Shut our sending side, end the job, drop buffered input, read and discard until then.
        case linger(until: UInt64)
        /// Lingering: read and drop what arrived.
        case discard
        case close
    }

    let timeouts: Timeouts
    private(set) var state: State
    private(set) var deadline: Deadline

    init(now: UInt64, proxyProtocol: Bool, timeouts: Timeouts) {
        self.timeouts = timeouts
        state = proxyProtocol ? .awaitingProxyHeader : .readingHead(since: nil)
        deadline = .header(now &+ timeouts.header)
    }

    /// Whether the connection is between requests and has read nothing of the next one.
    var isBetweenRequests: Bool {
        switch state {
        case .awaitingProxyHeader, .readingHead(since: nil): return true
        default: return false
        }
    }

    var isClosed: Bool { state == .closed }

    var isRunningJob: Bool { state == .exchanging || state == .tunnelling }

    // MARK: events

    /// Bytes arrived from the client (`buffered` now waiting), or it closed its sending side (`eof`).
    mutating func inputArrived(buffered: Int, eof: Bool) -> Action {
        switch state {
        case .awaitingProxyHeader:
            return buffered > 0 ? .parseProxyHeader : eof ? .close : .none
        case .readingHead:
            return buffered > 0 ? .parseHead : eof ? .close : .none
        case .exchanging, .tunnelling:
            return .deliverInput
        case .lingering:
            return .discard
        case .closingAfterFlush, .closed:
            return .none
        }
    }

    /// The PROXY header was read (and its client admitted).
    mutating func proxyHeaderParsed(buffered: Int) -> Action {
        guard state == .awaitingProxyHeader else { return .none }
        state = .readingHead(since: nil)
        return buffered > 0 ? .parseHead : .none
    }

    /// The PROXY header is not complete yet. Its time counts from accept, like the first head's.
    mutating func proxyHeaderIncomplete(eof: Bool) -> Action {
        eof ? .close : .none
    }

    /// The buffered bytes are the start of a head, not a whole one. The header timeout starts at its first
    /// byte (until then the keep-alive idle timer ran); the first head's clock started at accept. A head
    /// that arrives whole costs no timer at all.
    mutating func headIncomplete(now: UInt64, eof: Bool) -> Action {
        guard case .readingHead(let since) = state else { return .none }
        if eof { return .close }
        let first = since ?? now
        state = .readingHead(since: first)
        if case .header = deadline { return .none }
        deadline = .header(first &+ timeouts.header)
        return .arm(first &+ timeouts.header)
    }

    mutating func headParsed() -> Action {
        guard case .readingHead = state else { return .none }
        state = .readingHead(since: nil)
        deadline = .none
        return .dispatch
    }

    /// What `dispatch` started: an exchange, or a tunnel (CONNECT or Upgrade).
    mutating func jobStarted(tunnel: Bool) {
        state = tunnel ? .tunnelling : .exchanging
    }

    /// The job (or the proxy's own answer) wrote its whole response. `keepAlive`: the response allows
    /// another request on this connection.
    mutating func jobFinished(now: UInt64, keepAlive: Bool, draining: Bool, buffered: Int, eof: Bool,
                              outputEmpty: Bool) -> Action
    {
        switch state {
        case .readingHead, .exchanging, .tunnelling: break
        default: return .none
        }
        if !keepAlive || draining { return closeAfterFlush(now: now, outputEmpty: outputEmpty) }
        state = .readingHead(since: nil)
        if buffered > 0 {
            deadline = .none
            return .parseNext
        }
        if eof { return closeAfterFlush(now: now, outputEmpty: outputEmpty) }
        deadline = .idle(now &+ timeouts.idle)
        return .awaitRequest(idleUntil: now &+ timeouts.idle)
    }

    /// An answer that ends the connection was queued (an error, `Connection: close`, a finished tunnel).
    mutating func closeAfterFlush(now: UInt64, outputEmpty: Bool) -> Action {
        switch state {
        case .closingAfterFlush, .lingering, .closed: return .none
        default: break
        }
        state = .closingAfterFlush
        if case .job = deadline { deadline = .none }
        return outputEmpty ? startLinger(now: now) : .stopReading
    }

    /// Everything queued for the client was written.
    mutating func outputDrained(now: UInt64) -> Action {
        switch state {
        case .closingAfterFlush: return startLinger(now: now)
        case .exchanging, .tunnelling: return .deliverDrained
        default: return .none
        }
    }

    private mutating func startLinger(now: UInt64) -> Action {
        state = .lingering
        deadline = .linger(now &+ timeouts.linger)
        return .linger(until: now &+ timeouts.linger)
    }

    /// The running job wants to hear back by `at` (its upstream read timeout or its idle time).
    mutating func setJobDeadline(_ at: UInt64) -> Action {
        guard isRunningJob else { return .none }
        deadline = .job(at)
        return .arm(at)
    }

    mutating func clearJobDeadline() {
        if case .job = deadline { deadline = .none }
    }

    /// The loop timer fired. `buffered`: input waiting (a head begun, or not).
    mutating func deadlinePassed(now: UInt64, buffered: Int) -> Action {
        guard let at = deadline.at, state != .closed else { return .none }
        if now < at { return .arm(at) }  // the deadline moved later since the timer was armed
        let passed = deadline
        deadline = .none
        switch passed {
        case .none:
            return .none
        case .header, .idle:
            // An idle keep-alive connection (or one that never sent a byte) has nothing to answer.
            if isBetweenRequests && buffered == 0 { return .close }
            return .answerHeaderTimeout
        case .linger:
            return .close
        case .job:
            return isRunningJob ? .jobDeadline : .none
        }
    }

    /// The connection closed (error, peer gone, or an action's `close`).
    mutating func closed() {
        state = .closed
        deadline = .none
    }
}
