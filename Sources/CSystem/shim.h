// The Linux calls Glibc does not export cleanly to Swift, for SwproxyLoop (epoll's packed struct,
// eventfd, accept4, fcntl's variadic form, the terminal size ioctl, clocks, relaxed atomics and the
// open-file limit) and the cache of SwproxyServe (strptime, mkostemp, copy_file_range: behind feature macros). No libcurl here (that is CCurl, for SwproxyCurl alone).
#ifndef CSYSTEM_SHIM_H
#define CSYSTEM_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

char *strptime(const char *__restrict s, const char *__restrict fmt, struct tm *tp);
int mkostemp(char *template_, int flags);

/// strptime(3): the end of what was parsed, or NULL.
static inline const char *csys_strptime(const char *s, const char *fmt, struct tm *tp) { return strptime(s, fmt, tp); }

/// mkostemp(3): a new file from a template ending in XXXXXX, open for reading and writing.
static inline int csys_mkostemp(char *template_, int flags) { return mkostemp(template_, flags); }

/// copy_file_range(2): copies in the kernel from `in` at `*in_off` (advanced) to `out` at its offset.
static inline long csys_copy_file_range(int in, int64_t *in_off, int out, size_t len) {
    return syscall(SYS_copy_file_range, in, in_off, out, (int64_t *)0, len, 0u);
}

/// epoll_ctl without the packed `struct epoll_event` (which Swift imports badly on x86_64).
static inline int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

/// epoll_wait into two parallel arrays; at most 256 events at once.
static inline int csys_epoll_wait(int epfd, uint64_t *datas, uint32_t *events, int max, int timeout_ms) {
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

static inline int csys_errno(void) { return errno; }
static inline int csys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}
static inline int csys_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }
static inline int csys_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline int csys_ioctl_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    int r = ioctl(fd, TIOCGWINSZ, &ws);
    if (r == 0) { *rows = ws.ws_row; *cols = ws.ws_col; }
    return r;
}
static inline uint64_t csys_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static inline double csys_wallclock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/// Relaxed atomic counters: per-loop metrics are written by their loop only and read by the scraper, so
/// relaxed ordering is enough and nothing on the hot path takes a lock.
static inline void csys_atomic_add(long *p, long v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline long csys_atomic_load(const long *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/// A counter several processes share through a MAP_SHARED mapping of one file (the cache store's
/// generation): sequentially consistent, so a change made before a bump is seen by whoever reads the bump.
static inline long csys_shared_add(long *p, long v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline long csys_shared_load(const long *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
static inline long csys_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

#endif
