// The C side of swproxy: libcurl's variadic calls as typed, non-variadic wrappers (Swift cannot call
// C variadics), and the Linux calls Glibc does not export cleanly to Swift (epoll's packed struct,
// eventfd, timerfd, accept4, the stdout/stderr streams).
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#include <time.h>
#include <crypt.h>
#include <sys/resource.h>

// MARK: easy handle options

typedef size_t (*ccurl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*ccurl_debug_cb)(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata);
typedef int (*ccurl_xferinfo_cb)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                 curl_off_t ulnow);
typedef curl_socket_t (*ccurl_opensocket_cb)(void *userdata, curlsocktype purpose, struct curl_sockaddr *address);
typedef int (*ccurl_sockopt_cb)(void *userdata, curl_socket_t fd, curlsocktype purpose);
typedef int (*ccurl_closesocket_cb)(void *clientp, curl_socket_t item);
typedef int (*ccurl_seek_cb)(void *userdata, curl_off_t offset, int origin);

static inline CURLcode ccurl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode ccurl_easy_setopt_data_cb(CURL *h, CURLoption o, ccurl_data_cb v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode ccurl_easy_setopt_debug_cb(CURL *h, ccurl_debug_cb v) {
    return curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, v);
}
static inline CURLcode ccurl_easy_setopt_xferinfo_cb(CURL *h, ccurl_xferinfo_cb v) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v);
}
static inline CURLcode ccurl_easy_setopt_opensocket_cb(CURL *h, ccurl_opensocket_cb v) {
    return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, v);
}
static inline CURLcode ccurl_easy_setopt_closesocket_cb(CURL *h, ccurl_closesocket_cb v) {
    return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, v);
}
static inline CURLcode ccurl_easy_setopt_sockopt_cb(CURL *h, ccurl_sockopt_cb v) {
    return curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, v);
}
static inline CURLcode ccurl_easy_setopt_seek_cb(CURL *h, ccurl_seek_cb v) {
    return curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, v);
}
static inline CURLcode ccurl_easy_setopt_mime(CURL *h, curl_mime *m) { return curl_easy_setopt(h, CURLOPT_MIMEPOST, m); }
static inline CURLcode ccurl_easy_setopt_share(CURL *h, CURLSH *s) { return curl_easy_setopt(h, CURLOPT_SHARE, s); }

static inline CURLcode ccurl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_str(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_socket(CURL *h, CURLINFO i, curl_socket_t *v) {
    return curl_easy_getinfo(h, i, v);
}

// MARK: multi handle options

typedef int (*ccurl_socket_cb)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
typedef int (*ccurl_timer_cb)(CURLM *multi, long timeout_ms, void *userp);

static inline CURLMcode ccurl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode ccurl_multi_setopt_ptr(CURLM *m, CURLMoption o, void *v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode ccurl_multi_setopt_socket_cb(CURLM *m, ccurl_socket_cb v) {
    return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, v);
}
static inline CURLMcode ccurl_multi_setopt_timer_cb(CURLM *m, ccurl_timer_cb v) {
    return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, v);
}
static inline CURLSHcode ccurl_share_setopt_long(CURLSH *s, CURLSHoption o, long v) { return curl_share_setopt(s, o, v); }

// Values the Swift importer drops because they are macros built from casts or expressions.
static inline long ccurl_version_now(void) { return CURLVERSION_NOW; }
static inline size_t ccurl_readfunc_pause(void) { return CURL_READFUNC_PAUSE; }
static inline size_t ccurl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline size_t ccurl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline curl_socket_t ccurl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }
static inline curl_socket_t ccurl_socket_bad(void) { return CURL_SOCKET_BAD; }

// MARK: Linux calls

/// epoll_ctl without the packed `struct epoll_event` (which Swift imports badly on x86_64).
static inline int ccurl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

/// epoll_wait into two parallel arrays; at most 256 events at once.
static inline int ccurl_epoll_wait(int epfd, uint64_t *datas, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    do {
        n = epoll_wait(epfd, evs, max, timeout_ms);
    } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        datas[i] = evs[i].data.u64;
        events[i] = evs[i].events;
    }
    return n;
}

static inline int ccurl_errno(void) { return errno; }
static inline FILE *ccurl_stdout(void) { return stdout; }
static inline FILE *ccurl_stderr(void) { return stderr; }
static inline int ccurl_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}
static inline int ccurl_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }
static inline int ccurl_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline int ccurl_ioctl_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    int r = ioctl(fd, TIOCGWINSZ, &ws);
    if (r == 0) { *rows = ws.ws_row; *cols = ws.ws_col; }
    return r;
}
static inline uint64_t ccurl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static inline double ccurl_wallclock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/// Relaxed atomic counters: per-loop metrics are written by their loop only and read by the scraper, so
/// relaxed ordering is enough and nothing on the hot path takes a lock.
static inline void ccurl_atomic_add(long *p, long v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline long ccurl_atomic_load(const long *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/// crypt_rn into a caller's buffer (thread-safe; NULL on failure). For htpasswd bcrypt and sha-crypt hashes.
static inline const char *ccurl_crypt(const char *key, const char *setting, void *data, int size) {
    return crypt_rn(key, setting, data, size);
}
static inline int ccurl_crypt_data_size(void) { return (int)sizeof(struct crypt_data); }

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
static inline long ccurl_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

#endif
