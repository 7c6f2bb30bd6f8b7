internal import CCurl
import Glibc
import SwproxyLoop

/// libcurl's multi interface driven by our event loop through `curl_multi_socket_action`: libcurl tells us
/// which sockets to watch (`CURLMOPT_SOCKETFUNCTION`) and when to call back (`CURLMOPT_TIMERFUNCTION`),
/// the loop tells libcurl what happened. After each action, finished transfers are collected.
/// - SeeAlso: curl_multi_socket_action(3), curl's docs/examples/ephiperfifo.c
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
    /// > 0 while inside curl_multi_socket_action and the completion processing after it.
    private var actionDepth = 0
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

    /// Starts a transfer. Its delegate hears `transferCompleted` exactly once unless it is cancelled.
    @discardableResult
    public func add(_ transfer: Transfer) -> CurlCode {
        precondition(!closed)
        let h = transfer.easy.raw
        // The connection keeps the callback and its data beyond this transfer: the data is the driver.
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_CLOSESOCKETDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = ccurl_easy_setopt_closesocket_cb(h) { clientp, fd in
            Unmanaged<MultiDriver>.fromOpaque(clientp!).takeUnretainedValue().socketClosing(fd)
        }
        let r = curl_multi_add_handle(multi, h)
        guard r == CURLM_OK else { return .failedInit }
        transfers[transfer.easy.raw] = transfer
        transfer.driver = self
        return .ok
    }

    /// Takes a transfer out without a completion event (its owner gave up on it) and closes its easy handle.
    /// Safe from inside libcurl callbacks: the delegate is detached at once (later callbacks for it fail the
    /// transfer), and the removal and cleanup wait for the end of the current action, since libcurl must not
    /// have a handle removed from under its own callback.
    public func cancel(_ transfer: Transfer) {
        transfer.delegate = nil
        let wasActive = transfers.removeValue(forKey: transfer.easy.raw) != nil
        transfer.driver = nil
        let remove = { [multi] in
            if wasActive { _ = curl_multi_remove_handle(multi, transfer.easy.raw) }
            transfer.easy.close()
        }
        if actionDepth > 0 {
            loop.deferToNextTurn { [weak self] in
                guard let self, !self.closed else {
                    transfer.easy.close()
                    return
                }
                remove()
            }
        } else {
            remove()
        }
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

    /// Removes every transfer, clears libcurl's callbacks, then cleans the multi handle up.
    public func close() {
        guard !closed else { return }
        closed = true
        for (raw, t) in transfers {
            t.driver = nil
            _ = curl_multi_remove_handle(multi, raw)
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

    /// A socket libcurl opened through `Transfer`'s open callback.
    func socketOpened(_ fd: Int32) {
        reported.insert(fd)
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
                    var mask: Int32 = 0
                    if events.contains(.readable) || events.contains(.hangup) { mask |= CURL_CSELECT_IN }
                    if events.contains(.writable) { mask |= CURL_CSELECT_OUT }
                    if events.contains(.error) { mask |= CURL_CSELECT_ERR }
                    self.action(fd, mask)
                }
            } catch {
                return -1
            }
        }
        return 0
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
        actionDepth += 1
        defer { actionDepth -= 1 }
        var running: Int32 = 0
        _ = curl_multi_socket_action(multi, fd, mask, &running)
        collectCompletions()
    }

    private func collectCompletions() {
        var pending: Int32 = 0
        while let msg = curl_multi_info_read(multi, &pending) {
            guard msg.pointee.msg == CURLMSG_DONE, let raw = msg.pointee.easy_handle else { continue }
            let code = CurlCode(msg.pointee.data.result)
            guard let t = transfers[raw] else { continue }
            if !t.keepAfterCompletion {
                transfers.removeValue(forKey: raw)
                t.driver = nil
                _ = curl_multi_remove_handle(multi, raw)
            }
            t.delegate?.transferCompleted(t, code)
        }
    }
}
