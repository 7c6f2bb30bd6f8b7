import Glibc
import SwproxyLoop

/// Standard output shared by many concurrent transfers: each URL's bytes come out whole and in input order.
/// The lowest unfinished index streams straight through; later ones wait in memory and, past a limit, in an
/// unlinked temporary file, and are flushed when their turn comes.
final class OrderedStdout {
    private final class Pending {
        var memory: [UInt8] = []
        var spillFD: Int32 = -1
        var finished = false
    }

    private let count: Int
    private let memoryLimit: Int
    private var current = 0
    private var pending: [Int: Pending] = [:]
    /// URLs finished without holding anything.
    private var finishedEmpty: [Bool]
    private var memoryUsed = 0
    /// Set once stdout cannot be written (closed pipe): later writes fail at once.
    private(set) var broken = false
    private let fd: Int32

    init(count: Int, memoryLimit: Int, fd: Int32 = 1) {
        self.count = count
        finishedEmpty = Array(repeating: false, count: count)
        self.memoryLimit = memoryLimit
        self.fd = fd
    }

    /// Bytes held in memory for later indices (at most `memoryLimit`), and how many indices spilled to files.
    var heldInMemory: Int { memoryUsed }
    var spilledCount: Int { pending.values.filter { $0.spillFD >= 0 }.count }

    /// Writes (or holds) bytes of URL `index`. False when stdout is broken.
    func write(_ index: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        if broken { return false }
        if index == current { return emit(bytes) }
        let p = slot(index)
        if p.spillFD < 0 && memoryUsed + bytes.count <= memoryLimit {
            p.memory.append(contentsOf: bytes)
            memoryUsed += bytes.count
            return true
        }
        if p.spillFD < 0 {
            p.spillFD = OrderedStdout.makeSpillFile()
            if p.spillFD < 0 { return false }
        }
        do {
            try Socket.writeAll(p.spillFD, bytes)
            return true
        } catch {
            return false
        }
    }

    func write(_ index: Int, _ string: String) -> Bool {
        var s = string
        return s.withUTF8 { write(index, UnsafeRawBufferPointer($0)) }
    }

    /// URL `index` will write nothing more: when it is the current one, later URLs get their turn.
    func finish(_ index: Int) {
        if let p = pending[index] {
            p.finished = true
        } else {
            finishedEmpty[index] = true  // nothing held (most URLs of a batch write to files): no slot
        }
        while current < count {
            if let p = pending[current] {
                flush(p)
                guard p.finished else { return }
                pending.removeValue(forKey: current)
            } else if !finishedEmpty[current] {
                return
            }
            current += 1
        }
    }

    private func slot(_ index: Int) -> Pending {
        if let p = pending[index] { return p }
        let p = Pending()
        pending[index] = p
        return p
    }

    private func flush(_ p: Pending) {
        if !p.memory.isEmpty {
            _ = p.memory.withUnsafeBytes { emit($0) }
            memoryUsed -= p.memory.count
            p.memory = []
        }
        if p.spillFD >= 0 {
            lseek(p.spillFD, 0, SEEK_SET)
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(p.spillFD, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                _ = chunk.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            Socket.close(p.spillFD)
            p.spillFD = -1
        }
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if broken { return false }
        do {
            try Socket.writeAll(fd, bytes)
            return true
        } catch {
            broken = true
            return false
        }
    }

    private static func makeSpillFile() -> Int32 {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((dir + "/swproxy-stdout-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 {
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        return fd
    }
}
