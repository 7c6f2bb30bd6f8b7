import Glibc
import SwproxyLoop

/// Reading local inputs (`@file`, `-` for standard input) without Foundation. Standard input is read once
/// and remembered, since several options may name it.
final class LocalFiles {
    private var stdinCache: [UInt8]?

    func read(_ path: String) throws(FetchError) -> [UInt8] {
        if path == "-", let c = stdinCache { return c }
        let bytes: [UInt8]
        do {
            bytes = try Socket.readWholeFile(path)
        } catch {
            throw FetchError(.readError, "Failed to open/read \(path): \(String(cString: strerror(error.errno)))")
        }
        if path == "-" { stdinCache = bytes }
        return bytes
    }

    func readString(_ path: String) throws(FetchError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Size of a regular file, or nil (missing, not regular: a pipe's size is unknown).
    static func regularFileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(st.st_size)
    }

    /// Modification time of a file in seconds since the epoch, or nil when it does not exist.
    static func modificationTime(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_mtim.tv_sec)
    }

    /// Creates every missing directory above `path` (`--create-dirs`).
    static func createParentDirectories(_ path: String) -> Bool {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        var current = path.hasPrefix("/") ? "" : "."
        for p in parts where !p.isEmpty {
            current += "/" + p
            if mkdir(current, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }
}
