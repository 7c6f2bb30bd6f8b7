import Glibc
import SwproxyCurl
import SwproxyLoop

/// The tunnel's upstream connection: libcurl makes it (`CURLOPT_CONNECT_ONLY`: its resolver, happy eyeballs,
/// upstream proxy and timeouts), then the socket is taken over (duplicated, so removing the easy handle does
/// not close it) and watched on this loop. Through an https:// upstream proxy the bytes stay in libcurl's
/// TLS session (`viaLibcurl`).
extension Tunnel {
    func start() {
        let route = context.router.tunnel(host: host, port: port, parent: parents.current(config.parentPool, now: loop.now))
        self.route = route
        if let p = route.parent { config.parentPool?.started(p) }
        let easy = EasyHandle()
        let t = Transfer(easy: easy, delegate: self)
        transfer = t
        if let filter = context.policy.destinationFilter { t.setAddressFilter(filter) }
        easy.set(.url, route.url)
        easy.set(.connectOnly, true)
        easy.set(.proxy, route.proxy)  // "" = direct
        if route.proxyTunnel { easy.set(.httpProxyTunnel, true) }
        if let ca = config.upstreamCACert { easy.set(.proxyCAInfo, ca) }
        if config.upstreamInsecure { easy.disableTLSVerification() }
        easy.set(.connectTimeoutMilliseconds, max(1, Int(config.connectTimeout * 1000)))
        context.driver.keepAfterCompletion(t)
        if context.driver.add(t) != .ok {
            transfer = nil
            easy.close()
            fail("could not start the upstream connection")
        }
    }

    func transferReceivedBody(_ t: Transfer, _ bytes: UnsafeRawBufferPointer) -> BodyDisposition { .abort }

    func transferCompleted(_ t: Transfer, _ code: CurlCode) {
        let driver = context.driver
        transfer = nil
        guard code == .ok else {
            let detail = t.easy.errorMessage(for: code)
            let refused = t.addressRefused
            let connectCode = t.easy.info(.httpConnectCode)
            driver.cancel(t)
            if let p = route?.parent, let pool = config.parentPool,
                ParentPool.isParentFailure(code, connectCode: connectCode)
            {
                // Nothing reached the client yet: the next parent, if there is one.
                let again = parents.hasNext
                pool.failed(p, now: loop.now, failedOver: again)
                if again {
                    parents.advance()
                    start()
                    return
                }
            }
            stage = .ended
            client.failed(refused ? .destinationDenied : ProxyError.upstream(code, detail, proxy: route?.proxyDisplay),
                          head: head)
            return
        }
        if let p = route?.parent { config.parentPool?.succeeded(p) }
        upstreamAddress = t.easy.info(.primaryIP)
        let fd = fcntl(t.easy.activeSocket, F_DUPFD_CLOEXEC, 0)
        if route?.proxy.hasPrefix("https://") == true {
            viaLibcurl = t  // released with the tunnel
        } else {
            // The duplicate keeps the connection open when libcurl closes its own descriptor.
            driver.cancel(t)
        }
        guard fd >= 0, (try? Socket.makeNonBlocking(fd)) != nil else {
            if fd >= 0 { Socket.close(fd) }
            fail("could not take over the upstream socket")
            return
        }
        do {
            registration = try loop.register(fd: fd, interest: .readable) { [unowned self] ev in self.upstreamEvent(ev) }
        } catch {
            Socket.close(fd)
            fail("could not watch the upstream socket")
            return
        }
        upstreamFD = fd
        context.journal.tunnelActive(true)
        if let u = upgrade {
            // Nothing from the client goes upstream before the origin agreed to switch.
            stage = .awaitingUpgradeResponse
            toUpstream.append(contentsOf: u.requestHead)
            updateInterest()
            armIdle()
            return
        }
        stage = .relaying
        if context.policy.checksTunnelHello {
            hello = .pending(until: loop.now + MonotonicClock.nanoseconds(config.headerTimeout))
        }
        client.send(Tunnel.established)
        context.journal.tunnelOpened(method: "CONNECT", status: 200, seconds: Double(loop.now - started) / 1e9)
        armIdle()
        clientInputChanged()  // bytes the client sent right after its CONNECT head
    }

    private static let established = Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)

    /// The tunnel could not be set up: 502, and the connection ends.
    private func fail(_ why: String) {
        releaseUpstream()
        stage = .ended
        client.failed(ProxyError(status: 502, message: why, logReason: "internal"), head: head)
    }

    /// nil: the connection failed.
    func writeUpstream(_ bytes: UnsafeRawBufferPointer) -> IOResult? {
        guard let t = viaLibcurl else { return try? Socket.write(upstreamFD, bytes) }
        return try? t.send(bytes)
    }

    /// nil: the connection failed.
    func readUpstreamBytes(into buf: UnsafeMutableRawBufferPointer) -> IOResult? {
        guard let t = viaLibcurl else { return try? Socket.read(upstreamFD, into: buf) }
        return try? t.receive(into: buf)
    }

    func releaseUpstream() {
        if upstreamFD >= 0 { context.journal.tunnelActive(false) }
        if let id = registration { loop.unregister(id) }
        registration = nil
        if upstreamFD >= 0 { Socket.close(upstreamFD) }
        upstreamFD = -1
        if let t = viaLibcurl {
            viaLibcurl = nil
            context.driver.cancel(t)
        }
    }
}
