/// A min-heap of deadlines with lazy cancellation: cancelling forgets the callback, and the heap entry is
/// dropped when it reaches the top. The earliest live deadline is the loop's `epoll_wait` timeout.
struct TimerQueue {
    private struct Entry {
        let deadline: UInt64
        let id: UInt64
    }

    private var heap: [Entry] = []
    private var callbacks: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    var count: Int { callbacks.count }

    mutating func schedule(at deadline: UInt64, _ callback: @escaping () -> Void) -> TimerID {
        let id = nextID
        nextID += 1
        callbacks[id] = callback
        heap.append(Entry(deadline: deadline, id: id))
        siftUp(heap.count - 1)
        return TimerID(raw: id)
    }

    mutating func cancel(_ timer: TimerID) {
        callbacks.removeValue(forKey: timer.raw)
        // Keep the heap from filling with dead entries when timers are re-armed far more often than they fire.
        if heap.count > 64 && heap.count > 4 * callbacks.count { compact() }
    }

    var earliestDeadline: UInt64? {
        mutating get {
            dropCancelledTop()
            return heap.first?.deadline
        }
    }

    /// Removes and returns every callback whose deadline is at or before `now`, earliest first. The caller
    /// runs them after this returns, so they may schedule or cancel timers.
    mutating func popDue(now: UInt64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let cb = callbacks.removeValue(forKey: top.id) { due.append(cb) }
        }
        return due
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, callbacks[top.id] == nil { popTop() }
    }

    private mutating func compact() {
        heap.removeAll { callbacks[$0.id] == nil }
        if heap.count > 1 {
            for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].deadline < heap[parent].deadline else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        let n = heap.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n && heap[l].deadline < heap[m].deadline { m = l }
            if r < n && heap[r].deadline < heap[m].deadline { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
