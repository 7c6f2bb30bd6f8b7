import Glibc
import SwproxyCurl
import SwproxyLoop

/// One loop's share of the proxy: its own listening sockets (SO_REUSEPORT), curl multi handle, client
/// connections and read buffer. Nothing here is shared with other loops.
final class Worker {
    let context: LoopContext
    private var config: ServeConfiguration { context.config }
    private var loop: EventLoop { context.loop }
    private var listeners: [(fd: Int32, id: RegistrationID, tls: Bool)] = []
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private var lifecycle = WorkerLifecycle()

    /// `tlsFDs`: the `--listen-tls` listeners (their connections speak TLS first).
    init(config: ServeConfiguration, listenFDs: [Int32], tlsFDs: [Int32] = [], loop: EventLoop, metrics: Metrics) throws {
        context = try LoopContext(config: config, loop: loop, metrics: metrics)
        for (fds, tls) in [(listenFDs, false), (tlsFDs, true)] {
            for fd in fds {
                let id = try loop.register(fd: fd, interest: .readable) { [unowned self] _ in self.acceptAll(fd, tls: tls) }
                listeners.append((fd, id, tls))
            }
        }
        loop.onNotify = { [unowned self] code in
            switch code {
            case Worker.drainSignal: self.beginDrain()
            case Worker.reopenSignal: self.context.journal.reopen(self.config)
            default: if let c = self.pendingConfig?() { self.apply(c) }
            }
        }
    }

    static let drainSignal: Int32 = 1
    static let reopenSignal: Int32 = 2
    static let reloadSignal: Int32 = 3

    /// Where a reload's new configuration is picked up (shared with the signal-handling thread).
    var pendingConfig: (() -> ServeConfiguration?)?

    /// Takes a reloaded configuration: policy, limits, timeouts and logging change for new requests;
    /// listeners and the thread count stay as they were.
    func apply(_ new: ServeConfiguration) {
        var c = new
        c.listen = config.listen
        c.listenTLS = config.listenTLS
        c.threads = config.threads
        context.apply(c)
    }

    var connectionCount: Int { connections.count }

    private func acceptAll(_ fd: Int32, tls: Bool) {
        while !lifecycle.isDraining {
            if connections.count >= connectionLimit {
                // Full: leave new connections in the kernel's backlog until one of ours closes.
                perform(lifecycle.pause())
                return
            }
            let r: Socket.AcceptResult
            do { r = try Socket.accept(fd) } catch { return }
            switch r {
            case .accepted(let c, let peer):
                Socket.setNoDelay(c)
                do {
                    let conn = try ClientConnection(fd: c, peer: peer, context: context,
                                                    tls: tls ? context.config.tls : nil) { [unowned self] in
                        self.connectionClosed($0)
                    }
                    connections[ObjectIdentifier(conn)] = conn
                    context.journal.connectionOpened()
                    // Refused before a byte is read.
                    // With --proxy-protocol the client is the one its header names: checked once it is read.
                    if !config.proxyProtocol, case .refuse(let e) = context.policy.admit(peer) {
                        conn.refuseClient(e)
                    }
                } catch {
                    Socket.close(c)
                }
            case .wouldBlock:
                return
            case .outOfDescriptors:
                // Level-triggered epoll would wake us again at once: stop watching the listeners until a
                // descriptor is freed (a connection closes, or a short timer for libcurl's sockets).
                if !loggedOutOfDescriptors {
                    loggedOutOfDescriptors = true
                    ProxyServer.printError("swproxy serve: out of file descriptors; pausing accept until one is freed")
                }
                perform(lifecycle.pause())
                loop.schedule(after: config.acceptRetryDelay) { [weak self] in self?.resumeAccepting() }
                return
            case .retry:
                continue
            }
        }
    }

    private var loggedOutOfDescriptors = false

    /// This loop's share of --max-connections.
    var connectionLimit: Int { max(1, config.maxConnections / config.threads) }

    private func resumeAccepting() { perform(lifecycle.resume()) }

    /// A connection closed itself. This can happen deep inside its own callbacks (a failed write to a vanished
    /// client, from a relay or a libcurl write callback), whose frames go on using it and its exchange or tunnel
    /// (they hold it `unowned`): the last reference is dropped on the next turn, once those frames returned,
    /// not here. The same rule as `MultiDriver`'s for easy handles: nothing is freed while a caller is on the
    /// stack.
    private func connectionClosed(_ c: ClientConnection) {
        if let held = connections.removeValue(forKey: ObjectIdentifier(c)) {
            loop.deferToNextTurn { withExtendedLifetime(held) {} }
        }
        context.journal.connectionClosed()
        perform(lifecycle.connections(connections.count))
        if lifecycle.state == .paused { loop.deferToNextTurn { [weak self] in self?.resumeAccepting() } }
    }

    /// Stops accepting, closes idle connections, lets the others finish for up to the drain timeout.
    func beginDrain() {
        perform(lifecycle.drain(now: loop.now, timeout: MonotonicClock.nanoseconds(config.drainTimeout)))
    }

    private func perform(_ action: WorkerLifecycle.Action) {
        switch action {
        case .none:
            break
        case .watchListeners(let on):
            for l in listeners {
                loop.modify(l.id, interest: on ? .readable : [])
                if on { acceptAll(l.fd, tls: l.tls) }
            }
        case .beginDrain(let until):
            context.draining = true
            for l in listeners {
                loop.unregister(l.id)
                Socket.close(l.fd)
            }
            listeners = []
            for c in Array(connections.values) where c.isIdle { c.close() }
            _ = loop.schedule(at: until) { [unowned self] in self.perform(self.lifecycle.deadlinePassed(now: self.loop.now)) }
            perform(lifecycle.connections(connections.count))
        case .stop:
            loop.stop()
        case .closeAllAndStop:
            for c in Array(connections.values) { c.close() }
            loop.stop()
        }
    }

    /// After `run()` returned: releases everything this worker holds.
    func shutdown() {
        for c in Array(connections.values) { c.close() }
        for l in listeners {
            loop.unregister(l.id)
            Socket.close(l.fd)
        }
        listeners = []
        context.close()
    }
}
