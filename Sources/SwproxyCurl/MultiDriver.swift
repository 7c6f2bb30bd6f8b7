internal import CCurl
import Glibc
import SwproxyLoop

/// libcurl's multi interface driven by our event loop through `curl_multi_socket_action`: libcurl tells us
/// which sockets to watch (`CURLMOPT_SOCKETFUNCTION`) and when to call back (`CURLMOPT_TIMERFUNCTION`),
/// the loop tells libcurl what happened. After each action, finished transfers are collected.
/// - SeeAlso: curl_multi_socket_action(3), curl's docs/examples/ephiperfifo.c
///
/// ## The lifecycle of an easy handle is enforced here
///
/// An `EasyHandle` is in exactly one `EasyHandle.Phase`, and only this driver (with its pool) moves it:
///
///     pooled ─take─▶ configured ─add─▶ added ─done─▶ completing ─▶ configured ─recycle─▶ pooled
///                         ▲              │ (running, paused, kept)    │ (retry: add again)
///                         │              └─cancel─▶ cancelling ─▶ closed ◀─close/cancel─┘
///
/// **The rule: no handle is removed, reset, pooled or freed while libcurl is on the stack.** "On the stack"
/// means inside any call into libcurl that can run a transfer's callbacks: `curl_multi_socket_action` and the
/// completion loop after it, `curl_easy_pause` (which re-delivers held body data synchronously, inside the
/// call) and `curl_easy_send`/`curl_easy_recv`. Every such call goes through `insideLibcurl`, which counts
/// its depth. A `cancel` or `recycle` at depth > 0 detaches the owner at once (no later callback reaches it)
/// and queues the handle; the queue is worked off when the outermost call returns, before anything else runs.
///
/// The abort crash (a client vanishing mid-download) was this rule broken: the driver counted only its own
/// `curl_multi_socket_action` calls. `Transfer.resumeReceive` called `curl_easy_pause` directly; the held body
/// was re-delivered inside it, the write to the vanished client failed, the connection closed and cancelled
/// its transfer, and `cancel` (seeing depth 0) removed and freed the handle on the spot. `curl_easy_pause`
/// then went on with the freed handle (its error buffer was the first write ASan saw), corrupting the heap.
///
/// Illegal moves (adding an added handle, closing one libcurl still has) are refused: a precondition failure
/// in debug builds, a no-op with a line on stderr in release builds.
public final class MultiDriver {
    public let loop: EventLoop
    let multi: UnsafeMutableRawPointer
    private var sockets: [Int32: RegistrationID] = [:]
    /// Sockets libcurl opened through `Transfer`'s open callback: their close is reported to `socketClosing`
    /// (`CURLOPT_CLOSESOCKETFUNCTION`), so their registration may outlive a `CURL_POLL_REMOVE`.
    private var reported: Set<Int32> = []
    /// Reported sockets libcurl stopped watching (an idle keep-alive connection between requests): still in
    /// epoll, so the next request on the connection costs no `epoll_ctl` ADD and DEL. If anything arrives on
    /// one meanwhile (the origin closed it), it is taken out of epoll then.
    private var parked: Set<Int32> = []
    private var transfers: [UnsafeMutableRawPointer: Transfer] = [:]
    private var timer: TimerID?
    private var timerDeadline: UInt64 = 0
    private var kickPending = false
    /// > 0 while inside a libcurl call that can run callbacks (`insideLibcurl`).
    private var libcurlDepth = 0
    /// Handles let go of while libcurl was on the stack (phase `retired`): removed from the multi if they are
    /// in it, then closed or pooled, when it returns.
    private var retired: [(transfer: Transfer, inMulti: Bool, pool: EasyHandlePool?)] = []
    private var closed = false

    public init(loop: EventLoop) {
        CurlGlobal.ensure()
        guard let m = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.loop = loop
        multi = m
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_setopt_ptr(m, CURLMOPT_SOCKETDATA, me)
        _ = ccurl_multi_setopt_socket_cb(m) { _, fd, what, userp, _ in
            Unmanaged<MultiDriver>.fromOpaque(userp!).takeUnretainedValue().socketChanged(fd, what: what)
        }
        _ = ccurl_multi_setopt_ptr(m, CURLMOPT_TIMERDATA, me)
        _ = ccurl_multi_setopt_timer_cb(m) { _, ms, userp in
            Unmanaged<MultiDriver>.fromOpaque(userp!).takeUnretainedValue().timerChanged(ms)
        }
    }

    deinit { assert(closed, "MultiDriver deallocated without close()") }

    /// Number of transfers in the multi handle.
    public var activeCount: Int { transfers.count }

    /// Total connections libcurl may keep open at once (`CURLMOPT_MAX_TOTAL_CONNECTIONS`); 0 = no limit.
    public func setMaxTotalConnections(_ n: Int) {
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, n)
    }

    /// Connections to one host at once (`CURLMOPT_MAX_HOST_CONNECTIONS`); 0 = no limit.
    public func setMaxHostConnections(_ n: Int) {
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, n)
    }

    /// Size of the connection cache (`CURLMOPT_MAXCONNECTS`).
    public func setConnectionCacheSize(_ n: Int) {
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, n)
    }

    /// Enables HTTP/2 multiplexing on shared connections (`CURLPIPE_MULTIPLEX`, libcurl's default).
    public func setMultiplexing(_ on: Bool) {
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, on ? Int(CURLPIPE_MULTIPLEX) : 0)
    }

    /// Starts a transfer (or restarts a finished one, for a retry). Its delegate hears `transferCompleted`
    /// exactly once unless it is cancelled.
    @discardableResult
    public func add(_ transfer: Transfer) -> CurlCode {
        precondition(!closed)
        let easy = transfer.easy
        guard easy.phase == .configured || easy.phase == .completing else {
            lifecycleViolation("add of a handle that is \(easy.phase)")
            return .badFunctionArgument
        }
        let h = easy.raw
        // The connection keeps the callback and its data beyond this transfer: the data is the driver.
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_CLOSESOCKETDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = ccurl_easy_setopt_closesocket_cb(h) { clientp, fd in
            Unmanaged<MultiDriver>.fromOpaque(clientp!).takeUnretainedValue().socketClosing(fd)
        }
        let r = curl_multi_add_handle(multi, h)
        guard r == CURLM_OK else { return .failedInit }
        easy.phase = .added
        transfers[h] = transfer
        transfer.driver = self
        return .ok
    }

    /// The owner gives up on a transfer: no completion event, and no later callback of it reaches the old
    /// delegate. The handle is removed from the multi and closed now, or, while libcurl is on the stack
    /// (this may be called from any of the transfer's callbacks, or another's), as soon as libcurl returns.
    public func cancel(_ transfer: Transfer) {
        retire(transfer, into: nil)
    }

    /// The owner is done with a finished transfer: its handle goes back to `pool` (reset there) once libcurl
    /// is off the stack. A transfer still running is cancelled instead, and its handle closed.
    public func recycle(_ transfer: Transfer, into pool: EasyHandlePool) {
        retire(transfer, into: pool)
    }

    private func retire(_ transfer: Transfer, into pool: EasyHandlePool?) {
        transfer.delegate = nil
        let easy = transfer.easy
        switch easy.phase {
        case .closed, .pooled, .retired:
            return  // already let go of: cancel is idempotent
        case .added:
            transfers.removeValue(forKey: easy.raw)
            transfer.driver = nil
            easy.phase = .retired
            retired.append((transfer, true, nil))
        case .configured, .completing:
            // Not in the multi; inside the completion loop it is still not reset or pooled under libcurl.
            easy.phase = .retired
            retired.append((transfer, false, pool))
        }
        // Inside libcurl the queue waits for the outermost call to return; outside, it is worked off now.
        if libcurlDepth == 0 { releaseRetired() }
    }

    /// Runs a call into libcurl that may call a transfer's callbacks; handles let go of meanwhile are
    /// released when the outermost such call returns.
    @inline(__always)
    func insideLibcurl<R, E: Error>(_ call: () throws(E) -> R) throws(E) -> R {
        libcurlDepth += 1
        defer {
            libcurlDepth -= 1
            if libcurlDepth == 0 && !retired.isEmpty { releaseRetired() }
        }
        return try call()
    }

    /// Removes, then closes or pools, what was let go of while libcurl was on the stack. Removing can run
    /// callbacks too (socket and close-socket ones), so it runs at depth 1, and handles retired meanwhile are
    /// taken in the next round.
    private func releaseRetired() {
        libcurlDepth += 1
        while !retired.isEmpty {
            let batch = retired
            retired = []
            for (t, inMulti, pool) in batch {
                if inMulti { _ = curl_multi_remove_handle(multi, t.easy.raw) }
                if let pool { pool.give(t.easy) } else { t.easy.closeHandle() }
            }
        }
        libcurlDepth -= 1
    }

    /// Pauses or resumes both directions of a transfer in this multi (`curl_easy_pause`). Resuming
    /// re-delivers held data inside the call: it counts as inside libcurl. A no-op for a handle that left.
    func pause(_ transfer: Transfer, receive: Bool, send: Bool) {
        guard transfer.easy.phase == .added, transfer.driver === self else { return }
        _ = insideLibcurl { transfer.easy.pause(receive: receive, send: send) }
    }

    /// Keeps a finished transfer in the multi (CONNECT_ONLY tunnels: removing it would close its socket).
    public func keepAfterCompletion(_ transfer: Transfer) {
        transfer.keepAfterCompletion = true
    }

    /// Asks for a timeout action on the next turn (after a pause was lifted from outside libcurl).
    func kick() {
        guard !kickPending, !closed else { return }
        kickPending = true
        loop.deferToNextTurn { [weak self] in
            guard let self, !self.closed else { return }
            self.kickPending = false
            self.action(ccurl_socket_timeout(), 0)
        }
    }

    /// Removes every transfer (their handles go back to `configured`, for their owners to close), clears
    /// libcurl's callbacks, then cleans the multi handle up.
    public func close() {
        guard !closed else { return }
        precondition(libcurlDepth == 0, "MultiDriver.close() from inside libcurl")
        releaseRetired()
        closed = true
        for (raw, t) in transfers {
            t.driver = nil
            _ = curl_multi_remove_handle(multi, raw)
            t.easy.phase = .configured
        }
        transfers = [:]
        // curl may call these during cleanup; they must not reach a half-torn-down driver.
        _ = ccurl_multi_setopt_socket_cb(multi, nil)
        _ = ccurl_multi_setopt_timer_cb(multi, nil)
        curl_multi_cleanup(multi)
        for (_, id) in sockets { loop.unregister(id) }
        sockets = [:]
        parked = []
        reported = []
        if let t = timer { loop.cancel(t) }
        timer = nil
    }

    // MARK: libcurl → loop

    /// A socket libcurl opened through `Transfer`'s open callback. A registration still held under its
    /// number is stale: libcurl 7.88 closes the socket of a connection still being made, when its transfer
    /// is removed, without `CURL_POLL_REMOVE` and without the close-socket callback. epoll forgot that
    /// descriptor, and a `modify` of the old registration would never add the new one (found by a
    /// segmented download that cancels connecting segments; in `serve`, a client that goes away while its
    /// upstream connects): the old registration goes now.
    func socketOpened(_ fd: Int32) {
        reported.insert(fd)
        parked.remove(fd)
        if let id = sockets.removeValue(forKey: fd) { loop.unregister(id) }
    }

    /// libcurl closes one of its sockets: out of epoll first (a duplicate, as a tunnel keeps, would keep the
    /// registration alive), then closed.
    private func socketClosing(_ fd: Int32) -> Int32 {
        if !closed {
            reported.remove(fd)
            parked.remove(fd)
            if let id = sockets.removeValue(forKey: fd) { loop.unregister(id) }
        }
        return Glibc.close(fd)
    }

    /// Something arrived on a parked socket: stop watching it (libcurl checks the connection when it next
    /// uses it).
    private func unpark(_ fd: Int32) {
        parked.remove(fd)
        if let id = sockets.removeValue(forKey: fd) { loop.unregister(id) }
    }

    private func socketChanged(_ fd: Int32, what: Int32) -> Int32 {
        if what == CURL_POLL_REMOVE {
            if reported.contains(fd) && sockets[fd] != nil {
                parked.insert(fd)
                return 0
            }
            if let id = sockets.removeValue(forKey: fd) { loop.unregister(id) }
            return 0
        }
        if !parked.isEmpty { parked.remove(fd) }
        var interest: IOEvents = []
        if what & CURL_POLL_IN != 0 { interest.insert(.readable) }
        if what & CURL_POLL_OUT != 0 { interest.insert(.writable) }
        if let id = sockets[fd] {
            loop.modify(id, interest: interest)
        } else {
            do {
                sockets[fd] = try loop.register(fd: fd, interest: interest) { [unowned self] events in
                    if !self.parked.isEmpty && self.parked.contains(fd) {
                        self.unpark(fd)
                        return
                    }
                    let interest = self.sockets[fd].flatMap { self.loop.interest(of: $0) } ?? []
                    self.action(fd, MultiDriver.selectBits(events, interest: interest))
                }
            } catch {
                return -1
            }
        }
        return 0
    }

    /// The `ev_bitmask` for `curl_multi_socket_action`, mapped the way libcurl maps poll(2)'s answer for
    /// itself (`Curl_socket_check`): an error or hang-up on a socket read from is a read, which then reports
    /// the socket's own error (a reset is 56, "Recv failure"); `CURL_CSELECT_ERR` goes only with a socket
    /// written to. libcurl fails a transfer whose bits are `CURL_CSELECT_ERR` alone with 55, "select/poll
    /// returned error", and epoll can report `EPOLLERR` alone for a reset that has not yet closed the socket.
    static func selectBits(_ events: IOEvents, interest: IOEvents) -> Int32 {
        let failed = events.contains(.error) || events.contains(.hangup)
        var mask: Int32 = 0
        if events.contains(.readable) || events.contains(.hangup) || (failed && interest.contains(.readable)) {
            mask |= CURL_CSELECT_IN
        }
        if events.contains(.writable) { mask |= CURL_CSELECT_OUT }
        if failed && interest.contains(.writable) { mask |= CURL_CSELECT_ERR }
        if mask == 0 && failed { mask = CURL_CSELECT_IN }
        return mask
    }

    private func timerChanged(_ ms: Int) -> Int32 {
        guard ms >= 0 else {
            if let t = timer { loop.cancel(t) }
            timer = nil
            return 0
        }
        // Never act from inside this callback: a timeout of 0 means "on the next turn of the loop".
        let deadline = loop.now &+ UInt64(ms) &* 1_000_000
        if let t = timer {
            if deadline == timerDeadline { return 0 }
            loop.cancel(t)
        }
        timerDeadline = deadline
        timer = loop.schedule(at: deadline, timerFired)
        return 0
    }

    /// One closure for every arming of libcurl's timer (it is re-armed a few times per transfer).
    private lazy var timerFired: () -> Void = { [unowned self] in
        self.timer = nil
        self.action(ccurl_socket_timeout(), 0)
    }

    // MARK: loop → libcurl

    private func action(_ fd: Int32, _ mask: Int32) {
        insideLibcurl {
            var running: Int32 = 0
            _ = curl_multi_socket_action(multi, fd, mask, &running)
            collectCompletions()
        }
    }

    private func collectCompletions() {
        var pending: Int32 = 0
        while let msg = curl_multi_info_read(multi, &pending) {
            guard msg.pointee.msg == CURLMSG_DONE, let raw = msg.pointee.easy_handle else { continue }
            let code = CurlCode(msg.pointee.data.result)
            guard let t = transfers[raw] else { continue }
            if t.keepAfterCompletion {
                t.delegate?.transferCompleted(t, code)
                continue
            }
            transfers.removeValue(forKey: raw)
            t.driver = nil
            _ = curl_multi_remove_handle(multi, raw)
            t.easy.phase = .completing
            t.delegate?.transferCompleted(t, code)
            if t.easy.phase == .completing { t.easy.phase = .configured }
        }
    }
}

/// An illegal move of a handle's lifecycle: the caller's bug, stopped where it is made.
func lifecycleViolation(_ what: String, file: StaticString = #fileID, line: UInt = #line) {
    assertionFailure("easy handle lifecycle: \(what)", file: file, line: line)
    let text = "swproxy: internal error: easy handle lifecycle: \(what) (ignored)\n"
    _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
}
