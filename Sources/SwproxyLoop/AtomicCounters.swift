internal import CSystem

/// A fixed array of counters that one thread adds to and any thread reads, with relaxed atomics (no lock):
/// a loop's metrics, summed by the scraper.
public final class AtomicCounters: @unchecked Sendable {
    // @unchecked: every access goes through __atomic builtins on this never-reallocated buffer.
    private let slots: UnsafeMutablePointer<Int>
    public let count: Int

    public init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: 0, count: count)
    }

    deinit { slots.deallocate() }

    @inline(__always)
    public func add(_ index: Int, _ value: Int = 1) {
        csys_atomic_add(slots + index, value)
    }

    @inline(__always)
    public func load(_ index: Int) -> Int {
        csys_atomic_load(slots + index)
    }
}
