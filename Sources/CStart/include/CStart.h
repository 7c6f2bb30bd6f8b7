#ifndef CSTART_H
#define CSTART_H

// Nothing to call: start.c only keeps argc and argv for the Swift runtime (see there). SwiftPM links its
// object into the executable directly, so no Swift code needs to import this module.

#endif
