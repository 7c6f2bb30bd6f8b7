/// HAProxy's PROXY protocol header, v1 (text) and v2 (binary), which a load balancer puts before the first
/// byte of a connection to say which client it carries. Incremental: bytes arrive in any split.
/// - SeeAlso: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
public enum ProxyProtocol {
    /// The client the header names.
    public enum Source: Equatable, Sendable {
        /// v1 `TCP4`/`TCP6`: the address as text, checked for its shape only.
        case text(address: String, port: UInt16)
        /// v2 `TCP4`/`TCP6`: 4 or 16 address bytes.
        case binary(address: [UInt8], port: UInt16)
        /// v1 `UNKNOWN`, v2 `LOCAL` or an address family other than TCP: keep the connection's own address.
        case unspecified
    }

    public enum Result: Equatable, Sendable {
        case needMore
        case header(Source, consumed: Int)
        case invalid(String)
    }

    static let v2Signature: [UInt8] = [13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10]
    /// v1: at most 107 bytes, CRLF included.
    public static let maxV1 = 107
    /// v2: the largest header accepted (TLVs included).
    public static let maxV2 = 16 + 4096

    public static func parse(_ b: UnsafeRawBufferPointer) -> Result {
        guard let first = b.first else { return .needMore }
        if first == 0x50 { return parseV1(b) }  // "P"
        if first == 0x0D { return parseV2(b) }
        return .invalid("no PROXY protocol header")
    }

    static func parseV1(_ b: UnsafeRawBufferPointer) -> Result {
        let prefix = Array("PROXY ".utf8)
        for i in 0..<min(prefix.count, b.count) where b[i] != prefix[i] { return .invalid("bad v1 signature") }
        var end: Int?
        for i in 0..<min(b.count, maxV1) where b[i] == 10 {
            end = i
            break
        }
        guard let lf = end else { return b.count >= maxV1 ? .invalid("v1 header too long") : .needMore }
        guard lf > 0, b[lf - 1] == 13 else { return .invalid("v1 header not ended by CRLF") }
        for i in 0..<(lf - 1) where b[i] < 32 || b[i] > 126 { return .invalid("bad byte in v1 header") }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: b[0..<(lf - 1)]), as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        if parts.count >= 2 && parts[1] == "UNKNOWN" { return .header(.unspecified, consumed: lf + 1) }
        guard parts.count == 6, parts[1] == "TCP4" || parts[1] == "TCP6" else { return .invalid("malformed v1 header") }
        let v4 = parts[1] == "TCP4"
        for a in [parts[2], parts[3]] where !(v4 ? isV4(a) : isV6(a)) { return .invalid("bad v1 address") }
        guard let sport = port(parts[4]), port(parts[5]) != nil else { return .invalid("bad v1 port") }
        return .header(.text(address: String(parts[2]), port: sport), consumed: lf + 1)
    }

    static func parseV2(_ b: UnsafeRawBufferPointer) -> Result {
        for i in 0..<min(v2Signature.count, b.count) where b[i] != v2Signature[i] { return .invalid("bad v2 signature") }
        guard b.count >= 16 else { return .needMore }
        let verCmd = b[12]
        guard verCmd >> 4 == 2 else { return .invalid("unsupported v2 version") }
        let command = verCmd & 0x0F
        guard command <= 1 else { return .invalid("unknown v2 command") }
        let length = Int(b[14]) << 8 | Int(b[15])
        guard 16 + length <= maxV2 else { return .invalid("v2 header too long") }
        guard b.count >= 16 + length else { return .needMore }
        let total = 16 + length
        if command == 0 { return .header(.unspecified, consumed: total) }  // LOCAL: health checks and the like
        switch b[13] {
        case 0x11:  // TCP over IPv4
            guard length >= 12 else { return .invalid("v2 address block too short") }
            return .header(.binary(address: Array(b[16..<20]), port: UInt16(b[24]) << 8 | UInt16(b[25])), consumed: total)
        case 0x21:  // TCP over IPv6
            guard length >= 36 else { return .invalid("v2 address block too short") }
            return .header(.binary(address: Array(b[16..<32]), port: UInt16(b[48]) << 8 | UInt16(b[49])), consumed: total)
        case 0x00, 0x12, 0x22, 0x31, 0x32:
            return .header(.unspecified, consumed: total)
        default:
            return .invalid("unknown v2 address family")
        }
    }

    static func port(_ s: Substring) -> UInt16? {
        guard !s.isEmpty, s.count <= 5, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), s == "0" || !s.hasPrefix("0"),
            let n = Int(s), n <= 65535
        else { return nil }
        return UInt16(n)
    }

    static func isV4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { p in
                !p.isEmpty && p.count <= 3 && p.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } && Int(p)! <= 255
            }
    }

    static func isV6(_ s: Substring) -> Bool {
        s.count >= 2 && s.count <= 45 && s.contains(":")
            && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 58) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) || $0 == 46 }
    }
}
