// libcrypt for htpasswd verification (SwproxyServe's ProxyAuth), and nothing else.
#ifndef CCRYPT_SHIM_H
#define CCRYPT_SHIM_H

#include <crypt.h>

/// crypt_rn into a caller's buffer (thread-safe; NULL on failure). For bcrypt and sha-crypt hashes.
static inline const char *ccrypt_rn(const char *key, const char *setting, void *data, int size) {
    return crypt_rn(key, setting, data, size);
}
static inline int ccrypt_data_size(void) { return (int)sizeof(struct crypt_data); }

#endif
