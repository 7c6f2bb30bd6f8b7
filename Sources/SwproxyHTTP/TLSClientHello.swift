/// Reads the server name out of the first bytes a client sends into a tunnel: its TLS ClientHello, which
/// may span several handshake records. Nothing is decrypted and nothing is changed; the bytes are relayed
/// as they came once the proxy has decided.
/// - SeeAlso: RFC 8446 §4.1.2 (ClientHello), §5.1 (records); RFC 6066 §3 (server_name);
///   draft-ietf-tls-esni (encrypted_client_hello, extension 0xfe0d)
public enum TLSClientHello {
    public enum Inspection: Equatable, Sendable {
        /// Not enough bytes yet (and not more than `limit`).
        case needMore
        /// The bytes do not start a TLS handshake (another protocol in the tunnel).
        case notTLS
        /// A TLS handshake record that is not a readable ClientHello, or one larger than `limit`.
        case malformed
        /// The ClientHello: its `host_name` (nil when it sends none) and whether it offers ECH (then the name
        /// is the outer, public one).
        case hello(serverName: String?, ech: Bool)
    }

    /// The most bytes read before deciding: a ClientHello with post-quantum key shares is about 2 KiB; this
    /// leaves room for large ones and bounds what a tunnel holds back.
    public static let limit = 32 << 10

    public static func inspect(_ bytes: UnsafeRawBufferPointer) -> Inspection {
        // Records: type 22 (handshake), version 3.x, 2-byte length. The handshake message is the
        // concatenation of the records' payloads.
        if bytes.count >= 1 && bytes[0] != 22 || bytes.count >= 2 && bytes[1] != 3 { return .notTLS }
        var message: [UInt8] = []
        var offset = 0
        while true {
            guard bytes.count - offset >= 5 else { return bytes.count > limit ? .malformed : .needMore }
            guard bytes[offset] == 22, bytes[offset + 1] == 3 else { return .malformed }
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard length > 0, length <= 16384 + 2048 else { return .malformed }
            guard bytes.count - offset - 5 >= length else { return offset + 5 + length > limit ? .malformed : .needMore }
            message += bytes[(offset + 5)..<(offset + 5 + length)]
            offset += 5 + length
            guard message.count >= 4 else { continue }
            guard message[0] == 1 else { return .malformed }  // client_hello
            let bodyLength = Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
            guard bodyLength + 4 <= limit else { return .malformed }
            if message.count >= bodyLength + 4 {
                return parseBody(message[4..<(4 + bodyLength)])
            }
        }
    }

    public static func inspect(_ bytes: [UInt8]) -> Inspection {
        bytes.withUnsafeBytes { inspect($0) }
    }

    private static func parseBody(_ body: ArraySlice<UInt8>) -> Inspection {
        var r = Reader(bytes: body)
        guard r.skip(2 + 32),  // legacy_version, random
            let sid = r.u8(), r.skip(Int(sid)),
            let suites = r.u16(), r.skip(suites),
            let compression = r.u8(), r.skip(Int(compression))
        else { return .malformed }
        if r.remaining == 0 { return .hello(serverName: nil, ech: false) }  // no extensions at all
        guard let extLength = r.u16(), extLength == r.remaining else { return .malformed }
        var name: String?
        var ech = false
        var seen: Set<Int> = []
        while r.remaining > 0 {
            guard let type = r.u16(), let length = r.u16(), let data = r.take(length) else { return .malformed }
            guard seen.insert(type).inserted else { return .malformed }  // RFC 8446 §4.2: at most one of each
            switch type {
            case 0:
                guard let n = serverName(data) else { return .malformed }
                name = n
            case 0xfe0d:
                ech = true
            default:
                break
            }
        }
        return .hello(serverName: name, ech: ech)
    }

    /// The `host_name` of a server_name extension (RFC 6066 §3: at most one of each type).
    private static func serverName(_ data: ArraySlice<UInt8>) -> String? {
        var r = Reader(bytes: data)
        guard let listLength = r.u16(), listLength == r.remaining, listLength > 0 else { return nil }
        var host: String?
        while r.remaining > 0 {
            guard let type = r.u8(), let length = r.u16(), let name = r.take(length) else { return nil }
            guard type == 0 else { continue }
            guard host == nil, length > 0, name.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
            host = String(decoding: name, as: UTF8.self)
        }
        return host
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>
        var remaining: Int { bytes.count }

        mutating func u8() -> UInt8? {
            guard let b = bytes.first else { return nil }
            bytes = bytes.dropFirst()
            return b
        }

        mutating func u16() -> Int? {
            guard bytes.count >= 2 else { return nil }
            let v = Int(bytes[bytes.startIndex]) << 8 | Int(bytes[bytes.startIndex + 1])
            bytes = bytes.dropFirst(2)
            return v
        }

        mutating func skip(_ n: Int) -> Bool { take(n) != nil }

        mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard bytes.count >= n else { return nil }
            let part = bytes.prefix(n)
            bytes = bytes.dropFirst(n)
            return part
        }
    }
}
