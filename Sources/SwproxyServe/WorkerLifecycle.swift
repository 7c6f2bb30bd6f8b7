/// A loop's intake and graceful shutdown, as a value: accepting; paused while the loop is at its share of
/// --max-connections or out of descriptors; then, from the drain signal, draining (listeners closed, idle
/// connections closed, busy ones finish their response and close) until the last connection closed or
/// `--drain-timeout` passed, when whatever is left is closed; then stopped.
struct WorkerLifecycle: Equatable {
    enum State: Equatable {
        case accepting
        /// New connections wait in the kernel's backlog.
        case paused
        case draining(until: UInt64)
        case stopped
    }

    enum Action: Equatable {
        case none
        /// Stop or start watching the listeners.
        case watchListeners(Bool)
        /// Close the listeners and the idle connections; the deadline is `until`.
        case beginDrain(until: UInt64)
        /// Everything finished: stop the loop.
        case stop
        /// The drain time is up: close every connection left, then stop the loop.
        case closeAllAndStop
    }

    private(set) var state = State.accepting

    var isDraining: Bool {
        switch state {
        case .accepting, .paused: return false
        case .draining, .stopped: return true
        }
    }

    /// Full, or out of descriptors: leave new connections in the backlog.
    mutating func pause() -> Action {
        guard state == .accepting else { return .none }
        state = .paused
        return .watchListeners(false)
    }

    /// A connection closed, or the retry delay passed.
    mutating func resume() -> Action {
        guard state == .paused else { return .none }
        state = .accepting
        return .watchListeners(true)
    }

    /// `timeout`: --drain-timeout as it is now (a reload may have changed it).
    mutating func drain(now: UInt64, timeout: UInt64) -> Action {
        guard !isDraining else { return .none }
        state = .draining(until: now &+ timeout)
        return .beginDrain(until: now &+ timeout)
    }

    /// The connection count changed (after `beginDrain` closed the idle ones, or as each one closes).
    mutating func connections(_ remaining: Int) -> Action {
        guard case .draining = state, remaining == 0 else { return .none }
        state = .stopped
        return .stop
    }

    mutating func deadlinePassed(now: UInt64) -> Action {
        guard case .draining(let until) = state, now >= until else { return .none }
        state = .stopped
        return .closeAllAndStop
    }
}
