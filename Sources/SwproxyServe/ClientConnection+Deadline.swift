import SwproxyLoop

/// One deadline per connection, for the header timeout, the keep-alive idle time, the lingering close and
/// the upstream read timeout of the exchange in progress.
extension ClientConnection {
    /// What the connection's one deadline means when it passes.
    enum Deadline {
        case none
        /// Header timeout, or keep-alive idle time: `headerTimedOut` tells them apart.
        case head
        case linger
        /// The exchange's upstream read timeout (it decides, from its last activity, whether it passed).
        case upstreamRead
    }

    /// Sets the connection's deadline. The loop timer is moved only when the new deadline is earlier than
    /// the armed one; a later one is picked up when the armed timer fires. Keep-alive traffic moves the
    /// deadline forward on every request, so a request costs no timer operation (per-request schedule and
    /// cancel, with their closures, showed in profiles).
    func setDeadline(_ kind: Deadline, after seconds: Double) {
        setDeadline(kind, at: worker.loop.now &+ MonotonicClock.nanoseconds(seconds))
    }

    func setDeadline(_ kind: Deadline, at t: UInt64) {
        deadlineKind = kind
        deadlineAt = t
        if timer != nil && timerAt <= t { return }
        if let old = timer { worker.loop.cancel(old) }
        timerAt = t
        timer = worker.loop.schedule(at: t, timerCallback)
    }

    /// No deadline (the armed timer, if any, fires and finds nothing to do).
    func clearDeadline() {
        deadlineKind = .none
    }

    func timerFired() {
        timer = nil
        guard deadlineKind != .none, !isClosed else { return }
        if worker.loop.now < deadlineAt {
            timerAt = deadlineAt
            timer = worker.loop.schedule(at: deadlineAt, timerCallback)
            return
        }
        let kind = deadlineKind
        deadlineKind = .none
        switch kind {
        case .none: break
        case .head: headerTimedOut()
        case .linger: close()
        case .upstreamRead: if case .exchanging(let x) = state { x.readTimerFired() }
        }
    }

    func cancelTimerForClose() {
        deadlineKind = .none
        if let t = timer { worker.loop.cancel(t) }
        timer = nil
    }
}
