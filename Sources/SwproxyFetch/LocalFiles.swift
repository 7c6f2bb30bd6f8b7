import Glibc

/// Reading local inputs (`@file`, `-` for standard input) without Foundation. Standard input is read once
/// and remembered, since several options may name it.
final class LocalFiles {
    private var stdinCache: [UInt8]?

    func read(_ path: String) throws(FetchError) -> [UInt8] {
        if path == "-" {
            if let c = stdinCache { return c }
            let bytes = try readAll(fd: 0, name: "stdin")
            stdinCache = bytes
            return bytes
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw FetchError(.readError, "Failed to open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        return try readAll(fd: fd, name: path)
    }

    func readString(_ path: String) throws(FetchError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    private func readAll(fd: Int32, name: String) throws(FetchError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FetchError(.readError, "Failed to read \(name): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Size of a regular file, or nil (missing, not regular: a pipe's size is unknown).
    static func regularFileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(st.st_size)
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
