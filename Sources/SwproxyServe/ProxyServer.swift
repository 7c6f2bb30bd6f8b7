import Glibc
import Synchronization
import SwproxyCurl
import SwproxyLoop

/// Runs `swproxy serve`: binds every listener up front (so a busy port fails at once), starts one loop per
/// thread, each accepting on its own SO_REUSEPORT socket, and handles signals on the main thread:
/// SIGINT/SIGTERM drain (a second SIGINT exits at once).
public enum ProxyServer {
    /// Returns the process exit status.
    public static func run(_ config: ServeConfiguration) -> Int32 {
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
        var bound: [SocketAddress] = []
        for address in config.listen {
            var actual = address
            for t in 0..<config.threads {
                do {
                    let (fd, a) = try Socket.listen(on: actual, reusePort: true)
                    perThread[t].append(fd)
                    actual = a
                } catch {
                    printError("swproxy serve: cannot listen on \(address): \(error)")
                    for fds in perThread { for fd in fds { Socket.close(fd) } }
                    return 1
                }
            }
            bound.append(actual)
        }
        var effective = config
        effective.listen = bound
        printError("swproxy serve: listening on \(bound.map(\.description).joined(separator: ", ")) (\(config.threads) thread\(config.threads == 1 ? "" : "s"))")

        // Signals are taken by sigwait on this thread only.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let state = SharedState()
        var threads: [pthread_t] = []
        for t in 0..<config.threads {
            let fds = perThread[t]
            let cfg = effective
            threads.append(startThread {
                runWorker(config: cfg, listenFDs: fds, state: state)
            })
        }
        var interrupts = 0
        var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
        while state.finished.load(ordering: .acquiring) < config.threads {
            let sig = sigtimedwait(&set, nil, &timeout)
            if sig == SIGINT || sig == SIGTERM {
                interrupts += 1
                if interrupts > 1 && sig == SIGINT {
                    printError("swproxy serve: interrupted again, exiting now")
                    exit(130)
                }
                printError("swproxy serve: draining (up to \(config.drainTimeout) s)")
                for h in state.handles.withLock({ $0 }) { h.notify(Worker.drainSignal) }
            }
        }
        for t in threads { pthread_join(t, nil) }
        return state.failed.load(ordering: .acquiring) ? 1 : 0
    }

    private static func runWorker(config: ServeConfiguration, listenFDs: [Int32], state: SharedState) {
        defer { state.finished.add(1, ordering: .releasing) }
        let loop: EventLoop
        do { loop = try EventLoop() } catch {
            printError("swproxy serve: cannot start a loop: \(error)")
            state.failed.store(true, ordering: .releasing)
            return
        }
        let worker: Worker
        do {
            worker = try Worker(config: config, listenFDs: listenFDs, loop: loop)
        } catch {
            printError("swproxy serve: \(error)")
            state.failed.store(true, ordering: .releasing)
            loop.close()
            return
        }
        state.handles.withLock { $0.append(loop.handle) }
        loop.run()
        worker.shutdown()
        loop.close()
    }

    static func printError(_ s: String) {
        var line = s + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

final class SharedState: Sendable {
    let handles = Mutex<[EventLoopHandle]>([])
    let finished = Atomic<Int>(0)
    let failed = Atomic<Bool>(false)
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
