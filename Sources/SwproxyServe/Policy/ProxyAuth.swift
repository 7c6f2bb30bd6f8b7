import SwproxyLoop

/// Proxy authentication (Basic): `--auth USER:PASS` and htpasswd files with bcrypt or sha-crypt hashes.
/// Missing or wrong credentials get 407 with `Proxy-Authenticate: Basic realm="swproxy"`.
/// - SeeAlso: RFC 9110 §11.7.1 (Proxy-Authenticate), RFC 7617 (Basic)
public struct ProxyAuth: Sendable {
    enum Secret: Sendable {
        case plain([UInt8])
        case hash(String)
    }

    private var users: [String: Secret] = [:]
    /// A hash of the slowest kind loaded, checked for unknown users so that a wrong user name costs as much
    /// as a wrong password and the time taken does not tell which users exist.
    private var decoyHash: String?

    public init() {}

    public var isEnabled: Bool { !users.isEmpty }

    /// Adds `USER:PASS` from the command line.
    public mutating func add(userPass: String) throws(AuthError) {
        guard let colon = userPass.firstIndex(of: ":"), colon != userPass.startIndex else {
            throw AuthError("--auth expects USER:PASS")
        }
        users[String(userPass[..<colon])] = .plain(Array(userPass[userPass.index(after: colon)...].utf8))
    }

    /// Adds every `user:hash` line of an htpasswd file; plain-text or unknown hashes are refused.
    public mutating func addHtpasswd(_ text: String, file: String) throws(AuthError) {
        var n = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            n += 1
            let line = raw.trimmingCharacters()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw AuthError("\(file):\(n): expected user:hash")
            }
            let user = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard PasswordHash.isSupported(hash) else {
                throw AuthError(
                    "\(file):\(n): the password of '\(user)' is not a bcrypt ($2y$) or sha-crypt ($5$, $6$) hash; "
                        + "plain-text and weak hashes are refused (make one with: htpasswd -B \(file) \(user))")
            }
            users[user] = .hash(hash)
            if decoyHash == nil || hash.hasPrefix("$2") { decoyHash = hash }
        }
    }

    /// Whether a `Proxy-Authorization` value carries valid credentials.
    func verify(_ header: String?) -> Bool {
        guard let h = header, let (user, password) = ProxyAuth.decodeBasic(h) else { return false }
        guard let secret = users[user] else {
            if let decoy = decoyHash { _ = PasswordHash.verify(password, against: decoy) }
            return false
        }
        switch secret {
        case .plain(let p): return PasswordHash.constantTimeEqual(Array(password.utf8), p)
        case .hash(let hash): return PasswordHash.verify(password, against: hash)
        }
    }

    /// `Basic base64(user:password)` → (user, password).
    static func decodeBasic(_ value: String) -> (String, String)? {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic", let bytes = Base64.decode(String(parts[1])) else {
            return nil
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return (String(decoding: bytes[..<colon], as: UTF8.self), String(decoding: bytes[(colon + 1)...], as: UTF8.self))
    }
}

public struct AuthError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}

/// Standard base64 decoding (RFC 4648 §4), padding required, no whitespace.
enum Base64 {
    static func decode(_ s: String) -> [UInt8]? {
        let chars = Array(s.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            var v: UInt32 = 0
            var pad = 0
            for j in 0..<4 {
                let c = chars[i + j]
                let d: UInt32
                switch c {
                case 65...90: d = UInt32(c - 65)
                case 97...122: d = UInt32(c - 71)
                case 48...57: d = UInt32(c + 4)
                case 43: d = 62
                case 47: d = 63
                case 61:
                    guard i + 4 == chars.count, j >= 2 else { return nil }
                    pad += 1
                    d = 0
                default: return nil
                }
                if pad > 0 && c != 61 { return nil }
                v = v << 6 | d
            }
            out.append(UInt8(v >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var v = self
        while let f = v.first, f == " " || f == "\t" || f == "\r" { v = v.dropFirst() }
        while let l = v.last, l == " " || l == "\t" || l == "\r" { v = v.dropLast() }
        return v
    }
}
