#include "CSystemRandom.h"

#include <errno.h>

#if defined(__linux__)
#include <sys/random.h>

int otpgate_system_random(void *buffer, size_t count) {
    unsigned char *bytes = buffer;
    size_t done = 0;
    while (done < count) {
        ssize_t got = getrandom(bytes + done, count - done, 0);
        if (got > 0) {
            done += (size_t)got;
        } else if (got < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}
#else
#include <stdlib.h>

int otpgate_system_random(void *buffer, size_t count) {
    arc4random_buf(buffer, count);
    return 0;
}
#endif
