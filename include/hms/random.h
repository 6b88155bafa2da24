/* random.h - bytes from the kernel's CSPRNG (getrandom), for salts, token
 * ids and request ids. */
#ifndef HMS_RANDOM_H
#define HMS_RANDOM_H

#include <stddef.h>

/* Fills buf with len random bytes. Returns 0, or -1 when the kernel
 * cannot supply them (the caller must not fall back to weak randomness). */
int random_bytes(void *buf, size_t len);

#endif
