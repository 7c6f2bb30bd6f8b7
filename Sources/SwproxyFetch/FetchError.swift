import SwproxyCurl

/// A failure `fetch` reports: curl's exit code and the message printed as `swproxy: (N) message`.
public struct FetchError: Error, Equatable, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String

    public init(_ code: CurlCode, _ message: String) {
        self.code = code.rawValue
        self.message = message
    }

    /// A usage error: exit status 2, like curl's.
    public static func usage(_ message: String) -> FetchError {
        FetchError(.failedInit, message)
    }

    public var description: String { "(\(code)) \(message)" }
}
