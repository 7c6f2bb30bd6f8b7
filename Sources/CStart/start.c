// The executable's start-up, in C because it runs before any Swift code.
//
// The Swift runtime on Linux finds argc and argv for `CommandLine` with a static initializer that reads
// /proc/self/maps to locate the stack and walks back from `environ` (ArgvGrabber in the runtime's
// CommandLine.cpp). That costs about 0.3 ms of every run, a tenth of what separates a one-URL `fetch` from
// curl (bench/RESULTS.md). glibc hands argc and argv to the executable's constructors, so this file keeps
// them and defines the runtime's lookup function itself: the static link then has no reason to pull the
// runtime's own definition, and its initializer, in.
//
// With the runtime as a shared library (debug and test builds) the runtime binds the function within itself
// and this definition goes unused; should a runtime ever need both, the link fails on the duplicate symbol
// instead of quietly running two.
#include "CStart.h"

static char **cstart_argv;
static int cstart_argc;

__attribute__((constructor(101))) static void cstart_keep_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    cstart_argc = argc;
    cstart_argv = argv;
}

// SWIFT_CC(swift) char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen), as the runtime declares it.
__attribute__((swiftcall, used)) char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
    *outArgLen = cstart_argc;
    return cstart_argv;
}
