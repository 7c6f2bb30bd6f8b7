internal import CDigest
import Glibc

/// `--checksum ALG=HEX`: the digest a download must have. Computed while the file is written (over the
/// contiguous prefix as it grows), never by reading the finished file again.
public struct Checksum: Sendable, Equatable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256, sha512, sha1, md5

        /// Digest length in bytes.
        var length: Int {
            switch self {
            case .sha256: return 32
            case .sha512: return 64
            case .sha1: return 20
            case .md5: return 16
            }
        }
    }

    public let algorithm: Algorithm
    /// Lowercase hex.
    public let expected: String

    /// `sha256=HEX` (the algorithm name in any case; `sha-256` too).
    public init(parsing text: String) throws(FetchError) {
        guard let eq = text.firstIndex(of: "=") else {
            throw .usage("--checksum needs ALG=HEX (ALG one of sha256, sha512, sha1, md5), got '\(text)'")
        }
        let name = String(text[..<eq].lowercased().filter { $0 != "-" })
        guard let alg = Algorithm(rawValue: name) else {
            throw .usage("--checksum: unknown algorithm '\(text[..<eq])' (use sha256, sha512, sha1 or md5)")
        }
        let hex = text[text.index(after: eq)...].lowercased()
        guard hex.count == alg.length * 2, hex.allSatisfy({ $0.isHexDigit }) else {
            throw .usage("--checksum: a \(alg.rawValue) digest is \(alg.length * 2) hex digits, got '\(hex)'")
        }
        algorithm = alg
        expected = hex
    }
}

/// A running digest (OpenSSL EVP).
final class Digest {
    private let ctx: OpaquePointer
    let algorithm: Checksum.Algorithm
    /// Bytes fed so far.
    private(set) var count: Int64 = 0

    init(_ algorithm: Checksum.Algorithm) {
        self.algorithm = algorithm
        guard let c = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        ctx = c
        let md: OpaquePointer?
        switch algorithm {
        case .sha256: md = EVP_sha256()
        case .sha512: md = EVP_sha512()
        case .sha1: md = EVP_sha1()
        case .md5: md = EVP_md5()
        }
        EVP_DigestInit_ex(ctx, md, nil)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
        count += Int64(bytes.count)
    }

    /// Feeds the first `count` bytes of the file at `path` (a download continued from them). False when
    /// they could not be read.
    func feed(file path: String, upTo count: Int64) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        let chunk = 1 << 20
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        var at: Int64 = 0
        while at < count {
            let n = pread(fd, buf.baseAddress, Int(min(Int64(chunk), count - at)), off_t(at))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            at += Int64(n)
        }
        return true
    }

    /// The digest as lowercase hex; the digest cannot be fed after this.
    func finish() -> String {
        var out = [UInt8](repeating: 0, count: 64)
        var n: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &n) }
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for b in out[0..<Int(n)] {
            hex.append(digits[Int(b >> 4)])
            hex.append(digits[Int(b & 15)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
