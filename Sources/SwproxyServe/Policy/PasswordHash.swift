internal import CCrypt

/// Password hashing through libcrypt's `crypt_rn` (bcrypt `$2y$`/`$2b$`, sha-crypt `$5$`/`$6$`).
enum PasswordHash {
    /// Whether `hash` names a scheme swproxy accepts in an htpasswd file.
    static func isSupported(_ hash: String) -> Bool {
        ["$2y$", "$2b$", "$2a$", "$5$", "$6$"].contains { hash.hasPrefix($0) }
    }

    /// Hashes `password` with the salt and parameters of `hash` and compares in constant time.
    static func verify(_ password: String, against hash: String) -> Bool {
        // crypt(3) reads a C string: a NUL would cut the password short and let "right\0junk" pass.
        guard !password.utf8.contains(0) else { return false }
        let size = Int(ccrypt_data_size())
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { data.deallocate() }
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        guard let out = ccrypt_rn(password, hash, data, Int32(size)) else { return false }
        let computed = String(cString: out)
        return constantTimeEqual(Array(computed.utf8), Array(hash.utf8))
    }

    /// Compares without an early exit, so the time taken does not tell how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // The length difference is kept whole: truncated to a byte, lengths 256 apart would compare equal.
        var diff = UInt(bitPattern: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= UInt(x ^ y)
        }
        return diff == 0
    }
}
