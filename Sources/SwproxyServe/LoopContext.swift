import SwproxyCurl
import SwproxyLoop

/// What one loop's connections and jobs share, handed to each explicitly: the loop, its libcurl driver and
/// handle pool, the read buffer, the current configuration with its policy and routes, and the journal.
/// Owned by the `Worker`; a reload replaces `config`, `policy` and `router` for requests that start after it.
final class LoopContext {
    let loop: EventLoop
    let driver: MultiDriver
    /// Finished easy handles, reset and reused (cheaper than `curl_easy_init`/`cleanup` per request).
    let easyPool = EasyHandlePool(capacity: 16)
    /// One read buffer for every socket on this loop: reads copy out of it at once.
    let readBuffer: UnsafeMutableRawBufferPointer
    let journal: Journal
    private(set) var config: ServeConfiguration
    /// `config` again, as a job holds it for its whole run (see `ConfigSnapshot`).
    private(set) var snapshot: ConfigSnapshot
    private(set) var policy: Policy
    private(set) var router: UpstreamRouter
    /// The cache fills running on this loop (each holds itself here until it ends).
    var fills: [ObjectIdentifier: CacheFill] = [:]
    /// Graceful shutdown began: responses end their connections.
    var draining = false
    /// Finished transfers of GETs without a body, kept configured as they are for the next request of the
    /// same profile (`UpstreamRequest.PlainProfile`): no `curl_easy_reset`, no options set anew, no new
    /// `Transfer` (about 4% of a small proxied request's instructions).
    private var plainTransfers: [Transfer] = []
    private var plainProfile: UpstreamRequest.PlainProfile?

    init(config: ServeConfiguration, loop: EventLoop, metrics: Metrics) throws {
        self.loop = loop
        self.config = config
        snapshot = ConfigSnapshot(config)
        policy = Policy(config: config)
        router = UpstreamRouter(config: config)
        driver = MultiDriver(loop: loop)
        driver.setConnectionCacheSize(256)
        journal = try Journal(config: config, metrics: metrics)
        readBuffer = .allocate(byteCount: 65536, alignment: 16)
    }

    func apply(_ c: ServeConfiguration) {
        config = c
        snapshot = ConfigSnapshot(c)
        policy = Policy(config: c)
        router = UpstreamRouter(config: c)
        journal.reopen(c)
    }

    /// The connection's machine timings, from the configuration now in force.
    var timeouts: ConnectionMachine.Timeouts {
        ConnectionMachine.Timeouts(header: MonotonicClock.nanoseconds(config.headerTimeout),
                                   idle: MonotonicClock.nanoseconds(config.idleTimeout),
                                   linger: MonotonicClock.nanoseconds(config.lingerTimeout))
    }

    /// A kept transfer of profile `p`, if there is one whose completion has returned.
    func takePlain(_ p: UpstreamRequest.PlainProfile) -> Transfer? {
        guard p == plainProfile, let t = plainTransfers.last, t.isReusable else { return nil }
        plainTransfers.removeLast()
        return t
    }

    /// Takes back a finished transfer of profile `p` (from its completion): kept for the next request of
    /// that profile, or reset into the pool. Those kept for another profile go to the pool.
    func givePlain(_ t: Transfer, _ p: UpstreamRequest.PlainProfile) {
        if p != plainProfile {
            for old in plainTransfers { driver.recycle(old, into: easyPool) }
            plainTransfers.removeAll(keepingCapacity: true)
            plainProfile = p
        }
        if plainTransfers.count < easyPool.capacity {
            plainTransfers.append(t)
        } else {
            driver.recycle(t, into: easyPool)
        }
    }

    func close() {
        for f in fills.values { f.cancel() }
        fills = [:]
        for t in plainTransfers { driver.recycle(t, into: easyPool) }
        plainTransfers = []
        driver.close()
        easyPool.close()
        journal.close()
        readBuffer.deallocate()
    }
}

/// A configuration as a job holds it: by reference, so holding it costs one retain where a copy of the
/// `ServeConfiguration` struct retains each of its fields (and a computed property read through the loop
/// context's `var` copies it whole first); with what requests read of it worked out once.
final class ConfigSnapshot: Sendable {
    let value: ServeConfiguration
    /// `value.viaEntry`.
    let viaEntry: String?

    init(_ c: ServeConfiguration) {
        value = c
        viaEntry = c.viaEntry
    }
}
