import SwproxyLoop

/// Messages on standard error, curl-style (`swproxy: (N) message`, `Warning: …`).
enum Console {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { try? Socket.writeAll(2, UnsafeRawBufferPointer($0)) }
    }

    static func writeStdout(_ s: String) {
        var s = s
        s.withUTF8 { try? Socket.writeAll(1, UnsafeRawBufferPointer($0)) }
    }

    static func error(_ e: FetchError) {
        write("swproxy: \(e)\n")
    }

    static func warning(_ s: String) {
        write("Warning: \(s)\n")
    }
}
