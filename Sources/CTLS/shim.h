// OpenSSL's TLS server side (libssl) for serve's --listen-tls, and nothing else. The functions below wrap
// what OpenSSL defines as macros (Swift cannot call those) and the ALPN choice.
#ifndef CTLS_SHIM_H
#define CTLS_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>

/// Partial writes (SSL_write returns what fit, like write(2)), a write buffer that may move between
/// retries (ours is a ring), buffers released while idle; TLS 1.2 at least, no renegotiation.
static inline void ctls_configure(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static int ctls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                            unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char *chosen = NULL;
    if (SSL_select_next_proto(&chosen, outlen, http11, sizeof http11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/// A proxy speaks HTTP/1.1: clients that offer h2 and http/1.1 (Chromium) are answered http/1.1.
static inline void ctls_alpn_http11(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, ctls_alpn_select, NULL); }

/// The oldest queued error as text (empty when none), clearing the queue.
static inline void ctls_last_error(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    unsigned long next;
    while ((next = ERR_get_error()) != 0) (void)next;
    if (e != 0) {
        ERR_error_string_n(e, buf, len);
    } else if (len > 0) {
        buf[0] = 0;
    }
}

static inline void ctls_clear_errors(void) { ERR_clear_error(); }

#endif
