import Glibc
import SwproxyCurl
import SwproxyLoop

/// One loop's share of the proxy: its own listening sockets (SO_REUSEPORT), curl multi handle, client
/// connections and read buffer. Nothing here is shared with other loops.
final class Worker {
    let config: ServeConfiguration
    let policy: Policy
    let loop: EventLoop
    let driver: MultiDriver
    let accessLog: AccessLog
    /// One read buffer for every socket on this loop: reads copy out of it at once.
    let readBuffer: UnsafeMutableRawBufferPointer
    let access: ClientAccess
    private var listeners: [(fd: Int32, id: RegistrationID)] = []
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private(set) var draining = false

    init(config: ServeConfiguration, listenFDs: [Int32], loop: EventLoop) throws {
        self.config = config
        policy = Policy(config: config)
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
            if code == Worker.drainSignal { self.beginDrain() }
        }
    }

    static let drainSignal: Int32 = 1

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
                    // Refused before a byte is read.
                    if !access.permits(peer) {
                        conn.fail(ProxyError(status: 403, message: "client not allowed", logReason: "client-denied"),
                                  method: "-", target: "-", version: "-")
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

    func connectionClosed(_ c: ClientConnection) {
        connections.removeValue(forKey: ObjectIdentifier(c))
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
        accessLog.close()
        readBuffer.deallocate()
    }
}
