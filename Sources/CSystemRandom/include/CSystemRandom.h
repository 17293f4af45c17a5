#ifndef C_SYSTEM_RANDOM_H
#define C_SYSTEM_RANDOM_H

#include <stddef.h>

/// Fills `count` bytes at `buffer` from the kernel's CSPRNG (`getrandom(2)` on Linux, `arc4random_buf` elsewhere).
/// Returns 0, or -1 with errno set when the kernel refused. Swift's Glibc module does not export `getrandom`.
int otpgate_system_random(void *buffer, size_t count);

#endif
