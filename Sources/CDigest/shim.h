// OpenSSL's message digests (libcrypto's EVP interface) for fetch's --checksum, and nothing else.
#ifndef CDIGEST_SHIM_H
#define CDIGEST_SHIM_H

#include <openssl/evp.h>

#endif
