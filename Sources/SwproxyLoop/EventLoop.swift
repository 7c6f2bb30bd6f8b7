internal import CSystem
import Glibc
import Synchronization

/// A single-threaded event loop over epoll: descriptor readiness, timers whose earliest deadline is the
/// `epoll_wait` timeout, deferred work for the next turn, and `execute` for work sent from other threads.
///
/// One thread owns a loop and everything registered on it; only `handle` may cross threads.
public final class EventLoop {
    final class Registration {
        let fd: Int32
        var interest: IOEvents
        let handler: (IOEvents) -> Void
        init(fd: Int32, interest: IOEvents, handler: @escaping (IOEvents) -> Void) {
            self.fd = fd
            self.interest = interest
            self.handler = handler
        }
    }

    private let epfd: Int32
    private let wakeFD: Int32
    private static let wakeID: UInt64 = 0
    private var nextID: UInt64 = 1
    private var registrations: [UInt64: Registration] = [:]
    var timers = TimerQueue()
    private var deferred: [() -> Void] = []
    private var running = false
    private var closed = false
    private let remote: RemoteQueue
    private let eventData = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
    private let eventMasks = UnsafeMutablePointer<UInt32>.allocate(capacity: 256)

    /// The part of a loop other threads may use: hand it work, or ask it to stop.
    public let handle: EventLoopHandle

    /// Runs on this loop for every `handle.notify(code)` from another thread: the way to reach objects that
    /// live on this loop (and are not `Sendable`) from outside.
    public var onNotify: ((Int32) -> Void)?

    public init() throws {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw SyscallError.current("epoll_create1") }
        wakeFD = csys_eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            let e = SyscallError.current("eventfd")
            Glibc.close(epfd)
            throw e
        }
        guard csys_epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, UInt32(EPOLLIN.rawValue), EventLoop.wakeID) == 0 else {
            let e = SyscallError.current("epoll_ctl(eventfd)")
            Glibc.close(epfd)
            Glibc.close(wakeFD)
            throw e
        }
        remote = RemoteQueue(wakeFD: wakeFD)
        handle = EventLoopHandle(remote: remote)
    }

    deinit {
        assert(closed, "EventLoop deallocated without close()")
        eventData.deallocate()
        eventMasks.deallocate()
    }

    /// Closes the epoll and wake descriptors. Registered descriptors belong to their owners, who close them.
    public func close() {
        guard !closed else { return }
        closed = true
        remote.close()
        Glibc.close(epfd)
        Glibc.close(wakeFD)
    }

    /// Number of live registrations (for tests and metrics).
    public var registrationCount: Int { registrations.count }

    // MARK: descriptors

    /// Starts watching `fd`; `handler` runs on this loop with the events that occurred.
    @discardableResult
    public func register(fd: Int32, interest: IOEvents, handler: @escaping (IOEvents) -> Void) throws
        -> RegistrationID
    {
        let id = nextID
        nextID += 1
        guard csys_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, interest.rawValue, id) == 0 else {
            throw SyscallError.current("epoll_ctl(ADD, fd \(fd))")
        }
        registrations[id] = Registration(fd: fd, interest: interest, handler: handler)
        return RegistrationID(raw: id)
    }

    /// Changes what a registration waits for. A no-op when nothing changes.
    public func modify(_ id: RegistrationID, interest: IOEvents) {
        guard let reg = registrations[id.raw] else {
            preconditionFailure("modify of an unknown registration")
        }
        guard reg.interest != interest else { return }
        reg.interest = interest
        if csys_epoll_ctl(epfd, EPOLL_CTL_MOD, reg.fd, interest.rawValue, id.raw) != 0 {
            let err = csys_errno()
            precondition(err != EBADF, "epoll_ctl(MOD) on a closed descriptor \(reg.fd)")
        }
    }

    /// What a registration waits for now (nil once it is unregistered).
    public func interest(of id: RegistrationID) -> IOEvents? { registrations[id.raw]?.interest }

    /// Stops watching; call before closing the descriptor. Events already collected for it are dropped.
    public func unregister(_ id: RegistrationID) {
        guard let reg = registrations.removeValue(forKey: id.raw) else { return }
        // ENOENT/EBADF are possible when the owner closed the fd first; nothing is left to undo then.
        _ = csys_epoll_ctl(epfd, EPOLL_CTL_DEL, reg.fd, 0, 0)
    }

    // MARK: timers and deferred work

    /// Monotonic time in nanoseconds.
    public var now: UInt64 { MonotonicClock.now() }

    /// Runs `callback` on this loop at `deadline` (monotonic nanoseconds) or as soon after as it can.
    @discardableResult
    public func schedule(at deadline: UInt64, _ callback: @escaping () -> Void) -> TimerID {
        timers.schedule(at: deadline, callback)
    }

    /// Runs `callback` on this loop after `seconds`.
    @discardableResult
    public func schedule(after seconds: Double, _ callback: @escaping () -> Void) -> TimerID {
        timers.schedule(at: now &+ MonotonicClock.nanoseconds(seconds), callback)
    }

    public func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    /// Runs `work` on the next turn of the loop, after the current events have been handled.
    public func deferToNextTurn(_ work: @escaping () -> Void) {
        deferred.append(work)
    }

    // MARK: running

    /// Runs until `stop()` is called (on the loop or through `handle`).
    public func run() {
        running = true
        while running {
            turn()
        }
        runDeferred()
    }

    /// Ends `run()` after the current turn.
    public func stop() {
        running = false
    }

    /// One turn: wait for events or the earliest timer, dispatch, fire due timers, run deferred work.
    /// Exposed so tests can step the loop.
    public func turn(maxWaitMilliseconds: Int32 = -1) {
        var timeout: Int32 = -1
        if !deferred.isEmpty {
            timeout = 0
        } else if let deadline = timers.earliestDeadline {
            let t = now
            timeout = deadline <= t ? 0 : Int32(clamping: (deadline - t + 999_999) / 1_000_000)
        }
        if maxWaitMilliseconds >= 0 && (timeout < 0 || timeout > maxWaitMilliseconds) {
            timeout = maxWaitMilliseconds
        }
        let n = csys_epoll_wait(epfd, eventData, eventMasks, 256, timeout)
        if n < 0 {
            let err = csys_errno()
            precondition(err != EBADF && err != EINVAL, "epoll_wait: \(err)")
        }
        if n > 0 {
            for i in 0..<Int(n) {
                let id = eventData[i]
                if id == EventLoop.wakeID {
                    drainRemote()
                    continue
                }
                // A registration removed by an earlier handler in this batch is gone: its event is stale.
                guard let reg = registrations[id] else { continue }
                reg.handler(IOEvents(rawValue: eventMasks[i]))
            }
        }
        // A timer a callback schedules for "now" runs on the next turn, not in this one.
        for callback in timers.popDue(now: now) { callback() }
        runDeferred()
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let work = deferred
            deferred.removeAll(keepingCapacity: true)
            for w in work { w() }
        }
    }

    private func drainRemote() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
        for work in remote.take() {
            switch work {
            case .stop: running = false
            case .run(let body): body()
            case .notify(let code): onNotify?(code)
            }
        }
    }
}

/// The thread-safe face of an `EventLoop`: queue work onto it or stop it from any thread.
public struct EventLoopHandle: Sendable {
    let remote: RemoteQueue

    /// Runs `work` on the loop's thread on its next turn.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        remote.push(.run(work))
    }

    /// Asks the loop to return from `run()`.
    public func stop() {
        remote.push(.stop)
    }

    /// Calls the loop's `onNotify` with `code`, on the loop's thread.
    public func notify(_ code: Int32) {
        remote.push(.notify(code))
    }
}

enum RemoteWork: Sendable {
    case run(@Sendable () -> Void)
    case notify(Int32)
    case stop
}

/// Work queued from other threads, guarded by a mutex and announced through the loop's eventfd.
final class RemoteQueue: Sendable {
    private let state: Mutex<(items: [RemoteWork], open: Bool)> = Mutex((items: [], open: true))
    private let wakeFD: Int32

    init(wakeFD: Int32) { self.wakeFD = wakeFD }

    func push(_ work: RemoteWork) {
        let shouldWake = state.withLock { s -> Bool in
            guard s.open else { return false }
            s.items.append(work)
            return s.items.count == 1
        }
        if shouldWake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    func take() -> [RemoteWork] {
        state.withLock { s in
            let items = s.items
            s.items = []
            return items
        }
    }

    func close() {
        state.withLock { $0.open = false }
    }
}
