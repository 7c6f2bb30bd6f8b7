/// One header field as the client sent it (name case kept).
public struct HeaderField: Equatable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Case-insensitive name comparison with an already-lowercase name.
    @inlinable
    public func isNamed(_ lower: String) -> Bool {
        let a = name.utf8, b = lower.utf8
        guard a.count == b.count else { return false }
        // Native and small strings are contiguous UTF-8: compare the bytes in place (the generic
        // `elementsEqual` over two UTF8Views was 2% of a proxied request's instructions).
        if let same = a.withContiguousStorageIfAvailable({ x in
            b.withContiguousStorageIfAvailable { y in
                for i in 0..<x.count where ascii(x[i]) != y[i] { return false }
                return true
            }
        }), let same {
            return same
        }
        return a.elementsEqual(b, by: { ascii($0) == $1 })
    }
}

@inlinable
func ascii(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }

public enum HTTPVersion: Sendable, Equatable {
    case http10, http11

    public var text: String { self == .http10 ? "HTTP/1.0" : "HTTP/1.1" }
}

/// Where the request goes, by its request-target form.
/// - SeeAlso: RFC 9112 §3.2
public enum RequestTarget: Sendable, Equatable {
    /// `http://host:port/path?query` — what a forward proxy forwards.
    case absolute(scheme: String, host: String, port: Int, pathAndQuery: String)
    /// `host:port` — CONNECT only.
    case authority(host: String, port: Int)
    /// `/path?query` — for an origin server or reverse proxy.
    case origin(String)
    /// `*` — server-wide OPTIONS.
    case asterisk
}

/// How the request body is delimited.
public enum BodyFraming: Sendable, Equatable {
    case none
    case contentLength(UInt64)
    case chunked
}

/// A parsed, validated request head.
public struct RequestHead: Sendable, Equatable {
    public var method: String
    /// The request-target exactly as sent.
    public var rawTarget: String
    public var target: RequestTarget
    public var version: HTTPVersion
    public var fields: [HeaderField]
    public var framing: BodyFraming
    /// Lowercased tokens of every `Connection` field.
    public var connectionTokens: [String]

    /// Whether the client expects the connection to stay open after this exchange.
    public var keepAlive: Bool {
        switch version {
        case .http11: return !connectionTokens.contains("close")
        case .http10: return connectionTokens.contains("keep-alive") && !connectionTokens.contains("close")
        }
    }

    /// The first value of a field, by lowercase name.
    public func field(_ lower: String) -> String? {
        fields.first(where: { $0.isNamed(lower) })?.value
    }

    /// Every value of a field, by lowercase name.
    public func fields(_ lower: String) -> [String] {
        fields.filter { $0.isNamed(lower) }.map(\.value)
    }
}
