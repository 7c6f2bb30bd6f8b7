internal import CTLS
import Glibc
import SwproxyLoop

/// `--tls-cert`/`--tls-key`: the certificate chain and key the `--listen-tls` listeners present, loaded
/// into one OpenSSL context. Made with the configuration (so SIGHUP loads the files again); connections
/// keep the context they started with.
public final class TLSServerContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is safe to share between threads once configured; it is only read here.
    fileprivate let ctx: OpaquePointer

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(certificateFile: String, keyFile: String) throws(LoadError) {
        ctls_clear_errors()
        guard let c = SSL_CTX_new(TLS_server_method()) else { throw LoadError(description: "cannot make a TLS context") }
        ctx = c
        ctls_configure(c)
        ctls_alpn_http11(c)
        guard SSL_CTX_use_certificate_chain_file(c, certificateFile) == 1 else {
            throw LoadError(description: "--tls-cert \(certificateFile): \(TLSServerContext.lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(c, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw LoadError(description: "--tls-key \(keyFile): \(TLSServerContext.lastError())")
        }
        guard SSL_CTX_check_private_key(c) == 1 else {
            throw LoadError(description: "--tls-key \(keyFile) does not match --tls-cert \(certificateFile)")
        }
    }

    deinit { SSL_CTX_free(ctx) }

    static func lastError() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        ctls_last_error(&buf, buf.count)
        let s = String(cString: buf)
        return s.isEmpty ? "unknown TLS error" : s
    }
}

/// One client connection's TLS session, non-blocking on the connection's socket: reads and writes return
/// like `Socket.read`/`write` (bytes, would block, end), so the connection's loop code stays the same. The
/// handshake happens inside the first reads (`SSL_accept` implied); `wantsWritable` says OpenSSL waits for
/// the socket to take bytes before it can go on reading.
final class TLSStream {
    private let ssl: OpaquePointer
    private let fd: Int32
    /// Bytes arrived before the handshake finished (a close before any is no failed handshake: a port
    /// check, a health probe).
    private var sawBytes = false
    private(set) var handshakeDone = false
    /// The last operation wanted the socket writable (the handshake's flight did not fit).
    private(set) var wantsWritable = false
    /// The handshake failed: what OpenSSL said.
    private(set) var failure: String?

    init?(context: TLSServerContext, fd: Int32) {
        guard let s = SSL_new(context.ctx) else { return nil }
        ssl = s
        self.fd = fd
        SSL_set_fd(s, fd)
        SSL_set_accept_state(s)
    }

    deinit { SSL_free(ssl) }

    enum Failure: Error {
        case closed
    }

    /// Decrypted bytes into `buffer`. Throws when the session failed (the connection is to close).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(Failure) -> IOResult {
        if !handshakeDone && !sawBytes {
            var b: UInt8 = 0
            sawBytes = recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
        }
        ctls_clear_errors()
        var n = 0
        let r = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &n)
        if r == 1 {
            noteProgress()
            wantsWritable = false
            return .bytes(n)
        }
        return try outcome(SSL_get_error(ssl, r))
    }

    /// Encrypts and sends what fits of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> IOResult {
        guard handshakeDone else { return .wouldBlock }  // output waits for the handshake
        ctls_clear_errors()
        var n = 0
        let r = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &n)
        if r == 1 {
            wantsWritable = false
            return .bytes(n)
        }
        return try outcome(SSL_get_error(ssl, r))
    }

    /// Sends close_notify (once; best effort: the socket's own shutdown follows).
    func close() {
        guard handshakeDone else { return }
        ctls_clear_errors()
        _ = SSL_shutdown(ssl)
    }

    /// Whether the handshake completed with this call (for counting it once).
    private(set) var justCompleted = false

    private func noteProgress() {
        if !handshakeDone && SSL_is_init_finished(ssl) == 1 {
            handshakeDone = true
            justCompleted = true
        }
    }

    func takeJustCompleted() -> Bool {
        defer { justCompleted = false }
        return justCompleted
    }

    private func outcome(_ e: Int32) throws(Failure) -> IOResult {
        switch e {
        case SSL_ERROR_WANT_READ:
            noteProgress()
            wantsWritable = false
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            noteProgress()
            wantsWritable = true
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            if !handshakeDone && sawBytes {
                failure = "connection closed during the handshake"
                throw .closed
            }
            return .eof
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
            // The peer closed the TCP connection without close_notify (or errno says why).
            if errno == 0 && (handshakeDone || !sawBytes) { return .eof }
            if !handshakeDone { failure = errno == 0 ? "connection closed during the handshake" : String(cString: strerror(errno)) }
            throw .closed
        default:
            let why = TLSServerContext.lastError()
            if !handshakeDone { failure = why }
            throw .closed
        }
    }
}
