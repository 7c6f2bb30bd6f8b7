#ifndef CSTART_H
#define CSTART_H

/// argc as the executable's constructor received it (0 when it did not run).
int cstart_argument_count(void);

#endif
