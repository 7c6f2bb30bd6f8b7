import Glibc
import Synchronization

/// `--learn FILE`: every destination the proxy forwards (`host:port`) is collected by all loops and written to
/// FILE, sorted and without duplicates, in the allow-list format (`--allow-host-file` reads it back). The
/// rules FILE already holds are kept, so learning runs add up. Loops only insert into a set; the signal
/// thread writes the file (a temporary file renamed into place) when something new came.
final class DestinationLearner: Sendable {
    let path: String
    private let state = Mutex<(lines: Set<String>, dirty: Bool)>(([], false))

    /// Reads what FILE holds (a missing file is an empty list; a line that is not a rule is an error, so a
    /// wrong path is not overwritten).
    init(path: String, existing: String?) throws(HostRule.RuleError) {
        self.path = path
        var lines: Set<String> = []
        if let text = existing {
            for r in try HostRule.parseFile(text, name: path) { lines.insert(r.description) }
        }
        state.withLock { $0.lines = lines }
    }

    func saw(_ d: Destination) {
        let line = d.description
        state.withLock { s in
            if s.lines.insert(line).inserted { s.dirty = true }
        }
    }

    var lines: [String] { state.withLock { $0.lines.sorted() } }

    /// Writes the file if something new came since the last write; false when writing failed (it is tried
    /// again next time).
    @discardableResult
    func flush() -> Bool {
        let lines: [String]? = state.withLock { s in
            guard s.dirty else { return nil }
            s.dirty = false
            return s.lines.sorted()
        }
        guard let lines else { return true }
        let text = "# destinations seen by swproxy serve --learn; use with --allow-host-file\n"
            + lines.map { $0 + "\n" }.joined()
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        var ok = fd >= 0
        if ok {
            let bytes = Array(text.utf8)
            ok = bytes.withUnsafeBytes { b in write(fd, b.baseAddress, b.count) == b.count }
            ok = close(fd) == 0 && ok
            ok = ok && rename(temporary, path) == 0
        }
        if !ok {
            state.withLock { $0.dirty = true }
            unlink(temporary)
        }
        return ok
    }
}
