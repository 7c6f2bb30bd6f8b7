/// `--block-private`: destinations whose address is loopback, private, link-local, CGNAT, multicast,
/// unspecified or otherwise not public are refused, checked on the address libcurl actually connects to.
enum PrivateAddress {
    static func isBlocked(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 4 { return v4(bytes) }
        guard bytes.count == 16 else { return true }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return v4(Array(bytes[12..<16]))  // IPv4-mapped
        }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        if bytes[0] & 0xfe == 0xfc { return true }  // fc00::/7 unique local
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return true }  // fe80::/10 link-local
        if bytes[0] == 0xff { return true }  // multicast
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8 { return true }  // documentation
        if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b { return v4(Array(bytes[12..<16])) }  // NAT64
        return false
    }

    static func v4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return true
        case (100, 64...127): return true  // CGNAT
        case (169, 254): return true
        case (172, 16...31): return true
        case (192, 168): return true
        case (192, 0) where b[2] == 0 || b[2] == 2: return true  // IETF, TEST-NET-1
        case (198, 18...19): return true  // benchmarking
        case (198, 51) where b[2] == 100: return true
        case (203, 0) where b[2] == 113: return true
        case (224...255, _): return true  // multicast, reserved, broadcast
        default: return false
        }
    }
}
