import Glibc
import SwproxyLoop

/// A `-o`/`-O` file, created when the first byte arrives (so a failed transfer leaves no empty file), in
/// append mode when resuming. `-o /dev/null` (health checks, `-w` probes, benchmarks) is counted, not
/// opened: an open, a close and a write per URL saved.
final class OutputFile {
    /// Where it goes; with `--no-clobber` (or a name from Content-Disposition) the name actually created.
    private(set) var path: String
    let append: Bool
    let createDirs: Bool
    /// `--no-clobber`: an existing file is kept and FILE.1 … FILE.99 is tried instead.
    let noClobber: Bool
    /// Never overwrite (a server-given name, `-J`): an existing file fails the transfer.
    var exclusive = false
    private(set) var fd: Int32 = -1
    private let discard: Bool
    private var discardOpen = false
    private(set) var bytesWritten: Int64 = 0
    /// Size the file had when the transfer started (resume); a retry truncates back to it.
    let startSize: Int64

    init(path: String, append: Bool, createDirs: Bool, noClobber: Bool = false) {
        self.path = path
        self.append = append
        self.createDirs = createDirs
        self.noClobber = noClobber && !append
        discard = path == "/dev/null"
        startSize = append ? (LocalFiles.regularFileSize(path) ?? 0) : 0
    }

    var isOpen: Bool { fd >= 0 || discardOpen }
    /// Whether this transfer opened (created or truncated) the file at all.
    private(set) var wasOpened = false

    /// A name the server gave (`-J`): used instead, if nothing was written yet.
    func rename(to newPath: String) {
        guard !isOpen else { return }
        path = newPath
        exclusive = true
    }

    /// Opens the file if needed. Throws a message in curl's words.
    func open() throws(FetchError) {
        guard !isOpen else { return }
        if discard {
            discardOpen = true
            return
        }
        if noClobber || exclusive {
            var f = try create(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC)
            if f < 0 && noClobber {
                var n = 1
                while f < 0 && (errno == EEXIST || errno == EISDIR) && n < 100 {
                    f = Glibc.open("\(path).\(n)", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                    if f >= 0 { path = "\(path).\(n)" }
                    n += 1
                }
            }
            guard f >= 0 else {
                throw FetchError(.writeError, "Failed to open the file \(path): \(errnoText())")
            }
            fd = f
            wasOpened = true
            return
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let f = try create(path, flags)
        guard f >= 0 else {
            throw FetchError(.writeError, "Failed to create the file \(path): \(errnoText())")
        }
        fd = f
        wasOpened = true
    }

    /// `open(2)`; with `--create-dirs`, a missing directory above `path` is created and the open tried
    /// again. Opening first costs one system call where the directories are there already (the common case:
    /// a batch into one directory), not one `mkdir` per path component and file.
    private func create(_ path: String, _ flags: Int32) throws(FetchError) -> Int32 {
        let f = Glibc.open(path, flags, 0o644)
        guard f < 0, errno == ENOENT, createDirs else { return f }
        if !LocalFiles.createParentDirectories(path) {
            throw FetchError(.writeError, "Failed to create the directories for \(path): \(errnoText())")
        }
        return Glibc.open(path, flags, 0o644)
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
