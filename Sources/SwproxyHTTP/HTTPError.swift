/// Why a request cannot be served, with the status the client gets. Every framing error also closes the
/// connection: after it, nothing on that connection can be trusted as the start of a new request.
public struct HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let reason: String

    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status) \(reason)" }

    static func bad(_ reason: String) -> HTTPError { HTTPError(400, reason) }
}

/// Size limits for a request head.
/// - SeeAlso: RFC 9112 §2.3, §3 (implementations decide their own limits; 414 and 431 report them)
public struct HeadLimits: Sendable, Equatable {
    public var requestLine: Int
    public var headerBytes: Int
    public var fieldCount: Int

    public init(requestLine: Int = 8192, headerBytes: Int = 65536, fieldCount: Int = 100) {
        self.requestLine = requestLine
        self.headerBytes = headerBytes
        self.fieldCount = fieldCount
    }
}
