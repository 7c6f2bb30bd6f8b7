import Glibc
import SwproxyHTTP
import SwproxyLoop

/// `GET /metrics` (Prometheus text) and `GET /healthz` (200 while accepting, 503 while draining) on their
/// own listener and thread, so they answer while the proxy loops drain or are busy.
final class MetricsServer {
    private let loop: EventLoop
    private let fd: Int32
    private let state: SharedState
    private var listenID: RegistrationID?
    private var clients: [Int32: (RegistrationID, [UInt8])] = [:]

    static func run(fd: Int32, state: SharedState) {
        guard let loop = try? EventLoop() else {
            Socket.close(fd)
            return
        }
        let server = MetricsServer(loop: loop, fd: fd, state: state)
        state.metricsHandle.withLock { $0 = loop.handle }
        loop.run()
        server.close()
        loop.close()
    }

    private init(loop: EventLoop, fd: Int32, state: SharedState) {
        self.loop = loop
        self.fd = fd
        self.state = state
        listenID = try? loop.register(fd: fd, interest: .readable) { [unowned self] _ in self.acceptAll() }
    }

    private func acceptAll() {
        while case .accepted(let c, _) = (try? Socket.accept(fd)) ?? .wouldBlock {
            guard let id = try? loop.register(fd: c, interest: .readable, handler: { [unowned self] _ in self.readable(c) })
            else {
                Socket.close(c)
                continue
            }
            clients[c] = (id, [])
        }
    }

    private func readable(_ c: Int32) {
        var buf = [UInt8](repeating: 0, count: 4096)
        let r = try? buf.withUnsafeMutableBytes { try Socket.read(c, into: $0) }
        guard case .bytes(let n) = r else {
            if r != .wouldBlock { drop(c) }
            return
        }
        clients[c]!.1 += buf[0..<n]
        var parser = RequestHeadParser(limits: HeadLimits(requestLine: 2048, headerBytes: 8192, fieldCount: 50))
        let result = clients[c]!.1.withUnsafeBytes { parser.parse($0) }
        switch result {
        case .needMore:
            if clients[c]!.1.count > 16384 { drop(c) }
        case .invalid(let e):
            respond(c, status: e.status, body: e.reason + "\n", type: "text/plain")
        case .head(let head, _):
            let path = head.rawTarget.split(separator: "?").first.map(String.init) ?? ""
            let draining = state.draining.load(ordering: .acquiring)
            switch (head.method, path) {
            case ("GET", "/metrics"), ("HEAD", "/metrics"):
                respond(c, status: 200, body: MetricsText.render(state.metrics, draining: draining)
                            + (state.parents.withLock { $0 }?.metricsText(now: MonotonicClock.now()) ?? "")
                            + (state.cache.withLock { $0 }.map(MetricsText.cache) ?? ""),
                        type: "text/plain; version=0.0.4; charset=utf-8", head: head.method == "HEAD")
            case ("GET", "/healthz"), ("HEAD", "/healthz"):
                respond(c, status: draining ? 503 : 200, body: draining ? "draining\n" : "ok\n", type: "text/plain",
                        head: head.method == "HEAD")
            default:
                respond(c, status: 404, body: "not found: try /metrics or /healthz\n", type: "text/plain")
            }
        }
    }

    private func respond(_ c: Int32, status: Int, body: String, type: String, head: Bool = false) {
        let bytes = Array(body.utf8)
        var out = HeadWriter.response(status: status, reason: "", fields: [
            HeaderField("Content-Type", type), HeaderField("Content-Length", String(bytes.count)),
            HeaderField("Connection", "close"),
        ])
        if !head { out += bytes }
        // Small and answered at once: a blocking write of a few KiB to a fresh socket.
        _ = try? Socket.writeAll(c, out)
        Socket.shutdownWrite(c)
        drop(c)
    }

    private func drop(_ c: Int32) {
        if let (id, _) = clients.removeValue(forKey: c) { loop.unregister(id) }
        Socket.close(c)
    }

    private func close() {
        for c in Array(clients.keys) { drop(c) }
        if let id = listenID { loop.unregister(id) }
        Socket.close(fd)
    }
}
