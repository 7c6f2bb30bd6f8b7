/// How a response body is delimited, and how a proxy relays it to its client: one pure rule (RFC 9112
/// §6.3), used by the exchange and by the Upgrade path of `serve`. Values in, values out.
public enum ResponseFraming {
    /// How the origin delimits the body (RFC 9112 §6.3, in its order of precedence).
    public enum Body: Equatable, Sendable {
        /// No body: a response to HEAD, 1xx, 204 or 304.
        case none
        /// `Transfer-Encoding` (chunked last: the proxy only accepts such requests' responses).
        case chunked
        /// `Content-Length`; nil when the field is there but not a single valid number.
        case length(UInt64?)
        /// Neither: the body ends when the origin closes.
        case close
    }

    /// How the client gets the body.
    public enum Relay: Equatable, Sendable {
        case none
        /// Bytes as they come: a length from the origin, or its chunks to an HTTP/1.1 client.
        case passThrough
        /// The origin delimited by close; an HTTP/1.1 client gets it chunked by the proxy.
        case chunkEncode
        /// The origin chunked; an HTTP/1.0 client gets it decoded, delimited by close.
        case dechunk
        /// Delimited by closing the connection (an HTTP/1.0 client, no length).
        case closeDelimited
    }

    /// The decision for one response.
    public struct Decision: Equatable, Sendable {
        public var relay: Relay
        /// Whether the proxy sends `Transfer-Encoding: chunked` (the origin's own is hop-by-hop, dropped).
        public var chunked: Bool
        /// The `Connection` value the proxy sends (`close`, or `keep-alive` to an HTTP/1.0 client), if any.
        public var connection: String?
        /// Whether the client connection may carry another request after this response.
        public var keepAlive: Bool
    }

    public static func body(method: String, status: Int, fields: [HeaderField]) -> Body {
        if method == "HEAD" || status < 200 || status == 204 || status == 304 { return .none }
        // One pass, no arrays: this runs for every proxied response.
        var length: String?
        var lengthsDiffer = false
        for f in fields {
            if f.isNamed("transfer-encoding") { return .chunked }
            if f.isNamed("content-length") {
                if let l = length { lengthsDiffer = lengthsDiffer || l != f.value } else { length = f.value }
            }
        }
        if let l = length { return .length(lengthsDiffer ? nil : UInt64(l)) }
        return .close
    }

    /// How the proxy relays a response with this body to a client of `version` that asked for keep-alive
    /// (`keepAlive`) on a proxy that is not `draining`.
    public static func relay(_ body: Body, clientVersion: HTTPVersion, keepAlive: Bool, draining: Bool) -> Decision {
        var d = Decision(relay: .none, chunked: false, connection: nil, keepAlive: keepAlive)
        switch body {
        case .none:
            d.relay = .none
        case .chunked:
            if clientVersion == .http11 {
                d.relay = .passThrough
                d.chunked = true
            } else {
                d.relay = .dechunk
                d.keepAlive = false
            }
        case .length:
            d.relay = .passThrough
        case .close:
            if clientVersion == .http11 {
                d.relay = .chunkEncode
                d.chunked = true
            } else {
                d.relay = .closeDelimited
                d.keepAlive = false
            }
        }
        if !d.keepAlive || draining {
            d.keepAlive = false
            d.connection = "close"
        } else if clientVersion == .http10 {
            d.connection = "keep-alive"
        }
        return d
    }

    /// The fields of a relayed head: the origin's minus the hop-by-hop ones and those its `Connection` names
    /// (RFC 9110 §7.6.1), then `Transfer-Encoding: chunked` when the proxy chunks, this proxy's `Via` entry
    /// (`via`: the whole entry, `1.1 NAME (COMMENT)`, nil for none), and the `Connection` value the decision calls for. An
    /// interim (1xx) head has no decision.
    public static func clientFields(_ origin: [HeaderField], decision: Decision?, via: String?) -> [HeaderField] {
        var fields = HopByHop.filter(origin, connectionTokens: HopByHop.connectionTokens(origin))
        if decision?.chunked == true { fields.append(HeaderField("Transfer-Encoding", "chunked")) }
        addVia(via, to: &fields)
        if let c = decision?.connection { fields.append(HeaderField("Connection", c)) }
        return fields
    }

    /// The fields of the answer to an Upgrade request. A 101 switches: `Connection: Upgrade` and the origin's
    /// `Upgrade`. Any other answer ends the connection (`Connection: close`): its body is relayed as the origin
    /// framed it, so the origin's `Transfer-Encoding` stays.
    /// - SeeAlso: RFC 9110 §7.8, §15.2.2
    public static func upgradeAnswerFields(status: Int, origin: [HeaderField], via: String?) -> [HeaderField] {
        var fields = HopByHop.filter(origin, connectionTokens: HopByHop.connectionTokens(origin))
        addVia(via, to: &fields)
        if status == 101 {
            fields.append(HeaderField("Connection", "Upgrade"))
            if let u = origin.first(where: { $0.isNamed("upgrade") }) { fields.append(HeaderField("Upgrade", u.value)) }
        } else {
            fields.append(HeaderField("Connection", "close"))
            if let te = origin.first(where: { $0.isNamed("transfer-encoding") }) { fields.append(te) }
        }
        return fields
    }

    /// Adds this proxy's `Via` entry (`1.1 NAME (COMMENT)`): appended to the origin's `Via` when there is one,
    /// a new field otherwise.
    /// - SeeAlso: RFC 9110 §7.6.3
    public static func addVia(_ entry: String?, to fields: inout [HeaderField]) {
        guard let entry else { return }
        if let i = fields.firstIndex(where: { $0.isNamed("via") }) {
            fields[i].value += ", " + entry
        } else {
            fields.append(HeaderField("Via", entry))
        }
    }
}
