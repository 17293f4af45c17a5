#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Heap operations since the process started, counted by this target's malloc family (every thread, every library:
/// the Swift runtime, Foundation, NIO, SQLite). Linked only into `otpgate-allocs`, never into the server.
typedef struct {
    int64_t allocations; /// malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign
    int64_t frees;       /// free of a non-NULL pointer
    int64_t bytes;       /// bytes asked for by the allocations
} otpgate_allocation_counts;

otpgate_allocation_counts otpgate_allocation_counts_now(void);

#endif
