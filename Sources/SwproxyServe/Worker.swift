import Glibc
import SwproxyCurl
import SwproxyLoop

/// One loop's share of the proxy: its own listening sockets (SO_REUSEPORT), curl multi handle, client
/// connections and read buffer. Nothing here is shared with other loops.
final class Worker {
    private(set) var config: ServeConfiguration
    private(set) var policy: Policy
    private(set) var router: UpstreamRouter
    let loop: EventLoop
    let driver: MultiDriver
    /// Finished easy handles, reset and reused (cheaper than `curl_easy_init`/`cleanup` per request).
    let easyPool = EasyHandlePool(capacity: 16)
    private(set) var accessLog: AccessLog
    /// One read buffer for every socket on this loop: reads copy out of it at once.
    let readBuffer: UnsafeMutableRawBufferPointer
    private(set) var access: ClientAccess
    let metrics: Metrics
    private var listeners: [(fd: Int32, id: RegistrationID)] = []
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private(set) var draining = false

    init(config: ServeConfiguration, listenFDs: [Int32], loop: EventLoop, metrics: Metrics) throws {
        self.config = config
        self.metrics = metrics
        policy = Policy(config: config)
        router = UpstreamRouter(config: config)
        access = ClientAccess(allow: config.allow, deny: config.deny)
        self.loop = loop
        driver = MultiDriver(loop: loop)
        driver.setConnectionCacheSize(256)
        accessLog = try AccessLog(config: config)
        readBuffer = .allocate(byteCount: 65536, alignment: 16)
        for fd in listenFDs {
            let id = try loop.register(fd: fd, interest: .readable) { [unowned self] _ in self.acceptAll(fd) }
            listeners.append((fd, id))
        }
        loop.onNotify = { [unowned self] code in
            switch code {
            case Worker.drainSignal: self.beginDrain()
            case Worker.reopenSignal: self.reopenLog(self.config)
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
        c.threads = config.threads
        config = c
        policy = Policy(config: c)
        router = UpstreamRouter(config: c)
        access = ClientAccess(allow: c.allow, deny: c.deny)
        reopenLog(c)
    }

    /// Opens the access log again (after logrotate moved it), keeping the old one if that fails.
    private func reopenLog(_ c: ServeConfiguration) {
        do {
            let fresh = try AccessLog(config: c)
            accessLog.close()
            accessLog = fresh
        } catch {
            ProxyServer.printError("swproxy serve: cannot reopen the access log: \(error)")
        }
    }

    /// Counts one answered request (every access-log line but the tunnel ones goes through here too).
    /// `byPolicy`: the answer is swproxy's own refusal (403/407), not a status the origin sent.
    func record(method: String, status: Int, bytesIn: Int64, bytesOut: Int64, seconds: Double, error: String?,
                byPolicy: Bool = false)
    {
        metrics.request(method: method, status: status, seconds: seconds)
        metrics.counters.add(Metrics.Slot.bytesFromClients, Int(bytesIn))
        metrics.counters.add(Metrics.Slot.bytesToClients, Int(bytesOut))
        if byPolicy { metrics.counters.add(Metrics.Slot.connectionsRefused) }
        if let e = error, e.hasPrefix("upstream-"), status >= 500 { metrics.upstreamError(e) }
    }

    var connectionCount: Int { connections.count }

    private func acceptAll(_ fd: Int32) {
        while !draining {
            if connections.count >= connectionLimit {
                // Full: leave new connections in the kernel's backlog until one of ours closes.
                pauseAccepting()
                return
            }
            let r: Socket.AcceptResult
            do { r = try Socket.accept(fd) } catch { return }
            switch r {
            case .accepted(let c, let peer):
                Socket.setNoDelay(c)
                do {
                    let conn = try ClientConnection(fd: c, peer: peer, worker: self)
                    connections[ObjectIdentifier(conn)] = conn
                    metrics.counters.add(Metrics.Slot.connectionsAccepted)
                    metrics.counters.add(Metrics.Slot.connectionsActive)
                    // Refused before a byte is read.
                    // With --proxy-protocol the client is the one its header names: checked once it is read.
                    if !config.proxyProtocol && !access.permits(peer) {
                        conn.refuseClient()
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
                pauseAccepting()
                loop.schedule(after: config.acceptRetryDelay) { [weak self] in self?.resumeAccepting() }
                return
            case .retry:
                continue
            }
        }
    }

    private var acceptPaused = false
    private var loggedOutOfDescriptors = false

    /// This loop's share of --max-connections.
    var connectionLimit: Int { max(1, config.maxConnections / config.threads) }

    private func pauseAccepting() {
        guard !acceptPaused else { return }
        acceptPaused = true
        for l in listeners { loop.modify(l.id, interest: []) }
    }

    private func resumeAccepting() {
        guard acceptPaused, !draining else { return }
        acceptPaused = false
        for l in listeners {
            loop.modify(l.id, interest: .readable)
            acceptAll(l.fd)
        }
    }

    /// A connection closed itself. This can happen deep inside its own callbacks (a failed write to a vanished
    /// client, from a relay or a libcurl write callback), whose frames go on using it and its exchange or tunnel
    /// (they hold it `unowned`): the last reference is dropped on the next turn, once those frames returned,
    /// not here. The same rule as `MultiDriver`'s for easy handles: nothing is freed while a caller is on the
    /// stack.
    func connectionClosed(_ c: ClientConnection) {
        if let held = connections.removeValue(forKey: ObjectIdentifier(c)) {
            loop.deferToNextTurn { withExtendedLifetime(held) {} }
        }
        metrics.counters.add(Metrics.Slot.connectionsActive, -1)
        if draining && connections.isEmpty { loop.stop() }
        if acceptPaused { loop.deferToNextTurn { [weak self] in self?.resumeAccepting() } }
    }

    /// Stops accepting, closes idle connections, lets the others finish for up to the drain timeout.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        for l in listeners {
            loop.unregister(l.id)
            Socket.close(l.fd)
        }
        listeners = []
        for c in Array(connections.values) where c.isIdle { c.close() }
        if connections.isEmpty {
            loop.stop()
            return
        }
        loop.schedule(after: config.drainTimeout) { [unowned self] in
            for c in Array(self.connections.values) { c.close() }
            self.loop.stop()
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
        driver.close()
        easyPool.close()
        accessLog.close()
        readBuffer.deallocate()
    }
}
