import Glibc
import Synchronization
import SwproxyCurl
import SwproxyLoop

/// Runs `swproxy serve`: binds every listener up front (so a busy port fails at once), starts one loop per
/// thread, each accepting on its own SO_REUSEPORT socket, and handles signals on the main thread:
/// SIGINT/SIGTERM drain (a second SIGINT exits at once).
public enum ProxyServer {
    /// Returns the process exit status. `reload` builds the configuration again for SIGHUP (config file and
    /// command line); without it SIGHUP only reopens the access log.
    public static func run(_ config: ServeConfiguration, reload: (@Sendable () throws -> ServeConfiguration)? = nil)
        -> Int32
    {
        let problems = config.validate()
        if !problems.isEmpty {
            for p in problems { printError("swproxy serve: \(p)") }
            return 2
        }
        signal(SIGPIPE, SIG_IGN)
        _ = raiseOpenFileLimit()
        CurlGlobal.initialise()

        // Bind everything first; with port 0 the first bind picks the port the others share.
        var perThread: [[Int32]] = Array(repeating: [], count: config.threads)
        var tlsPerThread: [[Int32]] = Array(repeating: [], count: config.threads)
        var bound: [SocketAddress] = []
        var boundTLS: [SocketAddress] = []
        for (address, tls) in config.listen.map({ ($0, false) }) + config.listenTLS.map({ ($0, true) }) {
            var actual = address
            for t in 0..<config.threads {
                do {
                    let (fd, a) = try Socket.listen(on: actual, reusePort: true)
                    if tls { tlsPerThread[t].append(fd) } else { perThread[t].append(fd) }
                    actual = a
                } catch {
                    printError("swproxy serve: cannot listen on \(address): \(error)")
                    for fds in perThread + tlsPerThread { for fd in fds { Socket.close(fd) } }
                    return 1
                }
            }
            if tls { boundTLS.append(actual) } else { bound.append(actual) }
        }
        var metricsFD: Int32 = -1
        if let m = config.metricsListen {
            do {
                let (fd, a) = try Socket.listen(on: m)
                metricsFD = fd
                printError("swproxy serve: metrics and health on http://\(a)/metrics and /healthz")
            } catch {
                printError("swproxy serve: cannot listen on \(m) for metrics: \(error)")
                for fds in perThread + tlsPerThread { for fd in fds { Socket.close(fd) } }
                return 1
            }
        }
        var effective = config
        effective.settle(listen: bound, tls: boundTLS)
        if let path = config.learnPath {
            do {
                effective.learner = try DestinationLearner(path: path, existing: readWhole(path))
            } catch {
                printError("swproxy serve: --learn \(error)")
                for fds in perThread + tlsPerThread { for fd in fds { Socket.close(fd) } }
                if metricsFD >= 0 { Socket.close(metricsFD) }
                return 2
            }
        }
        let learner = effective.learner
        if let dir = config.cacheDir {
            let clock = MonotonicClock.now()
            do {
                effective.cache = try CacheStore(directory: dir, capacity: config.cacheSize, maxObject: config.cacheMaxObject)
            } catch {
                printError("swproxy serve: --cache-dir \(dir): \(error)")
                for fds in perThread + tlsPerThread { for fd in fds { Socket.close(fd) } }
                if metricsFD >= 0 { Socket.close(metricsFD) }
                return 2
            }
            let s = effective.cache!.stats
            printError("swproxy serve: cache in \(dir): \(s.entries) entries, \(s.bytes) bytes (index built in \(Double((MonotonicClock.now() - clock) / 1_000_000) / 1000) s)")
        }
        if !effective.upstreamProxies.isEmpty { effective.parentPool = ParentPool(effective.upstreamProxies) }
        let shown = bound.map(\.description) + boundTLS.map { "\($0) (TLS)" }
        printError("swproxy serve: listening on \(shown.joined(separator: ", ")) (\(config.threads) thread\(config.threads == 1 ? "" : "s"))")

        // Signals are taken by sigwait on this thread only.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let state = SharedState(threads: config.threads)
        state.parents.withLock { $0 = effective.parentPool }
        state.cache.withLock { $0 = effective.cache }
        var threads: [pthread_t] = []
        for t in 0..<config.threads {
            let fds = perThread[t]
            let tlsFDs = tlsPerThread[t]
            let cfg = effective
            let metrics = state.metrics[t]
            threads.append(startThread {
                runWorker(config: cfg, listenFDs: fds, tlsFDs: tlsFDs, metrics: metrics, state: state)
            })
        }
        var metricsThread: pthread_t?
        if metricsFD >= 0 {
            let fd = metricsFD
            metricsThread = startThread { MetricsServer.run(fd: fd, state: state) }
        }
        var interrupts = 0
        var drainNotified = 0  // loops told to drain so far; a loop may register after the signal came
        var timeout = timespec(tv_sec: 0, tv_nsec: 20_000_000)
        while state.finished.load(ordering: .acquiring) < config.threads {
            let sig = sigtimedwait(&set, nil, &timeout)
            if sig == SIGINT || sig == SIGTERM {
                interrupts += 1
                if interrupts > 1 && sig == SIGINT {
                    printError("swproxy serve: interrupted again, exiting now")
                    exit(130)
                }
                if interrupts == 1 { printError("swproxy serve: draining (up to \(config.drainTimeout) s)") }
                state.draining.store(true, ordering: .releasing)
            }
            if state.draining.load(ordering: .acquiring) {
                let handles = state.handles.withLock { $0 }
                for h in handles.dropFirst(drainNotified) { h.notify(Worker.drainSignal) }
                drainNotified = handles.count
            }
            if sig == SIGHUP {
                hangUp(reload: reload, running: effective, state: state)
            }
            flushLearned(learner)
        }
        for t in threads { pthread_join(t, nil) }
        flushLearned(learner)
        if let m = metricsThread {
            // The metrics thread publishes its handle as it starts; wait for it if it has not yet.
            for _ in 0..<500 {
                if let h = state.metricsHandle.withLock({ $0 }) {
                    h.stop()
                    break
                }
                usleep(10_000)
            }
            pthread_join(m, nil)
        }
        return state.failed.load(ordering: .acquiring) ? 1 : 0
    }

    /// SIGHUP: reload the configuration (a bad one is reported and the old one kept) and reopen the log.
    private static func hangUp(
        reload: (@Sendable () throws -> ServeConfiguration)?, running: ServeConfiguration, state: SharedState
    ) {
        guard let reload else {
            for h in state.handles.withLock({ $0 }) { h.notify(Worker.reopenSignal) }
            return
        }
        do {
            var c = try reload()
            c.settle(listen: running.listen, tls: running.listenTLS)
            c.threads = running.threads
            // --learn is read at start: a reload keeps collecting into the same file.
            if c.learnPath != running.learnPath {
                printError("swproxy serve: --learn changes take a restart; still learning into \(running.learnPath ?? "nothing")")
            }
            c.learnPath = running.learnPath
            c.learner = running.learner
            // The store is opened at start: a reload keeps it (another directory or size takes a restart).
            if c.cacheDir != running.cacheDir || c.cacheSize != running.cacheSize || c.cacheMaxObject != running.cacheMaxObject {
                printError("swproxy serve: cache changes take a restart; keeping \(running.cacheDir ?? "no cache")")
            }
            c.cacheDir = running.cacheDir
            c.cacheSize = running.cacheSize
            c.cacheMaxObject = running.cacheMaxObject
            c.cache = running.cache
            // The parents' health carries over while the list stays the same.
            if let pool = state.parents.withLock({ $0 }), pool.parents == c.upstreamProxies {
                c.parentPool = pool
            } else {
                c.parentPool = c.upstreamProxies.isEmpty ? nil : ParentPool(c.upstreamProxies)
            }
            let problems = c.validate()
            guard problems.isEmpty else {
                printError("swproxy serve: reload refused, keeping the old configuration: \(problems.joined(separator: "; "))")
                // The log is still reopened: logrotate sends the same signal and must not lose lines.
                for h in state.handles.withLock({ $0 }) { h.notify(Worker.reopenSignal) }
                return
            }
            state.pending.withLock { $0 = c }
            state.parents.withLock { $0 = c.parentPool }
            for h in state.handles.withLock({ $0 }) { h.notify(Worker.reloadSignal) }
            printError("swproxy serve: configuration reloaded")
        } catch {
            printError("swproxy serve: reload refused, keeping the old configuration: \(error)")
            for h in state.handles.withLock({ $0 }) { h.notify(Worker.reopenSignal) }
        }
    }

    private static func runWorker(config: ServeConfiguration, listenFDs: [Int32], tlsFDs: [Int32], metrics: Metrics,
                                  state: SharedState) {
        defer { state.finished.add(1, ordering: .releasing) }
        let loop: EventLoop
        do { loop = try EventLoop() } catch {
            printError("swproxy serve: cannot start a loop: \(error)")
            state.failed.store(true, ordering: .releasing)
            return
        }
        let worker: Worker
        do {
            worker = try Worker(config: config, listenFDs: listenFDs, tlsFDs: tlsFDs, loop: loop, metrics: metrics)
        } catch {
            printError("swproxy serve: \(error)")
            state.failed.store(true, ordering: .releasing)
            loop.close()
            return
        }
        worker.pendingConfig = { state.pending.withLock { $0 } }
        state.handles.withLock { $0.append(loop.handle) }
        loop.run()
        worker.shutdown()
        loop.close()
    }

    nonisolated(unsafe) private static var learnWarned = false

    /// Writes what `--learn` collected since the last time (the signal thread only).
    private static func flushLearned(_ learner: DestinationLearner?) {
        guard let l = learner else { return }
        if l.flush() {
            learnWarned = false
        } else if !learnWarned {
            learnWarned = true
            printError("swproxy serve: cannot write --learn file \(l.path): \(String(cString: strerror(errno)))")
        }
    }

    /// A whole file as text, or nil when it cannot be read (it does not exist yet).
    static func readWhole(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func printError(_ s: String) {
        var line = s + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// What the signal thread, the workers and the metrics thread share; nothing here is on the hot path.
final class SharedState: Sendable {
    let handles = Mutex<[EventLoopHandle]>([])
    let finished = Atomic<Int>(0)
    let failed = Atomic<Bool>(false)
    let draining = Atomic<Bool>(false)
    let pending = Mutex<ServeConfiguration?>(nil)
    let metricsHandle = Mutex<EventLoopHandle?>(nil)
    /// The `--upstream-proxy` parents' health, for /metrics.
    let parents = Mutex<ParentPool?>(nil)
    /// The cache's store, for /metrics.
    let cache = Mutex<CacheStore?>(nil)
    let metrics: [Metrics]

    init(threads: Int) {
        metrics = (0..<threads).map { Metrics(loop: $0) }
    }
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a pthread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    var tid = pthread_t()
    let ctx = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let r = pthread_create(&tid, nil, { p in
        let b = Unmanaged<ThreadBody>.fromOpaque(p!).takeRetainedValue()
        b.body()
        return nil
    }, ctx)
    precondition(r == 0, "pthread_create failed: \(r)")
    return tid
}
