import Glibc
import SwproxyLoop

/// A `-o`/`-O` file, created when the first byte arrives (so a failed transfer leaves no empty file), in
/// append mode when resuming. `-o /dev/null` (health checks, `-w` probes, benchmarks) is counted, not
/// opened: an open, a close and a write per URL saved.
final class OutputFile {
    let path: String
    let append: Bool
    let createDirs: Bool
    private(set) var fd: Int32 = -1
    private let discard: Bool
    private var discardOpen = false
    private(set) var bytesWritten: Int64 = 0
    /// Size the file had when the transfer started (resume); a retry truncates back to it.
    private let startSize: Int64

    init(path: String, append: Bool, createDirs: Bool) {
        self.path = path
        self.append = append
        self.createDirs = createDirs
        discard = path == "/dev/null"
        startSize = append ? (LocalFiles.regularFileSize(path) ?? 0) : 0
    }

    var isOpen: Bool { fd >= 0 || discardOpen }

    /// Opens the file if needed. Throws a message in curl's words.
    func open() throws(FetchError) {
        guard !isOpen else { return }
        if discard {
            discardOpen = true
            return
        }
        if createDirs && !LocalFiles.createParentDirectories(path) {
            throw FetchError(.writeError, "Failed to create the directories for \(path): \(errnoText())")
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let f = Glibc.open(path, flags, 0o644)
        guard f >= 0 else {
            throw FetchError(.writeError, "Failed to create the file \(path): \(errnoText())")
        }
        fd = f
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FetchError) {
        try open()
        if discard {
            bytesWritten += Int64(bytes.count)
            return
        }
        do {
            try Socket.writeAll(fd, bytes)
        } catch {
            throw FetchError(.writeError, "Failure writing output to destination: \(error)")
        }
        bytesWritten += Int64(bytes.count)
    }

    /// Undoes this attempt's writes before a retry.
    func reset() {
        if discard { bytesWritten = 0 }
        guard fd >= 0 else { return }
        _ = ftruncate(fd, off_t(startSize))
        _ = lseek(fd, off_t(startSize), SEEK_SET)
        bytesWritten = 0
    }

    func close() {
        if fd >= 0 { Socket.close(fd) }
        fd = -1
        discardOpen = false
    }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}
