/*
 * arena.h - per-request memory region.
 *
 * Everything a request allocates comes from its arena, and foreign objects
 * (json-c trees, PGresults) are handed to it with arena_defer(), so one
 * arena_reset() at the end of the request releases all of it. The first
 * block is kept across resets so a steady worker does not touch malloc for
 * small requests, and its RSS stays flat.
 */
#ifndef HMS_ARENA_H
#define HMS_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* A new arena whose blocks are block_size bytes and whose total is capped at
 * max_total bytes (0 = no cap). NULL when out of memory. */
struct arena *arena_new(size_t block_size, size_t max_total);

/* Releases everything and the arena itself. NULL is allowed. */
void arena_free(struct arena *a);

/* Runs the deferred cleanups (last registered first) and releases all memory
 * but the first block. */
void arena_reset(struct arena *a);

/* Aligned, uninitialised memory; NULL when out of memory or over the cap. */
void *arena_alloc(struct arena *a, size_t size);
void *arena_calloc(struct arena *a, size_t count, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);

/* Calls fn(ptr) at the next reset. Returns 0, or -1 when out of memory, in
 * which case fn(ptr) has already been called so nothing leaks. */
int arena_defer(struct arena *a, void (*fn)(void *), void *ptr);

/* Bytes currently handed out (for tests and diagnostics). */
size_t arena_used(const struct arena *a);

#endif
