internal import CSystem
import Glibc

/// A system call that failed for a reason of the environment (not a programmer error): carries what was
/// attempted and the errno, so the message a user sees says both.
public struct SyscallError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The error for the calling thread's current `errno`.
    public static func current(_ call: String) -> SyscallError {
        SyscallError(call, errno: csys_errno())
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno)))"
    }
}

/// Outcome of a non-blocking I/O call: some bytes, would block, or end of stream.
public enum IOResult: Equatable {
    case bytes(Int)
    case wouldBlock
    case eof
}

/// Runs `body` again while it fails with EINTR; returns its result, or -1 with errno set.
@inline(__always)
func retryingEINTR(_ body: () -> Int) -> Int {
    while true {
        let r = body()
        if r < 0 && csys_errno() == EINTR { continue }
        return r
    }
}
