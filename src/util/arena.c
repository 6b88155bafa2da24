/*
 * arena.c - per-request memory region (see include/hms/arena.h).
 *
 * Blocks form a list; allocations are bumped from the head block. Requests
 * larger than a quarter block get a block of their own so a big body does
 * not waste the rest of a regular block. Cleanups run last-in first-out.
 */
#include "hms/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *);
	void *ptr;
};

struct arena {
	struct arena_block *first; /* kept across resets */
	struct arena_block *head;  /* where allocations go */
	struct arena_cleanup *cleanups;
	size_t block_size;
	size_t max_total;
	size_t total; /* bytes of blocks beyond the first */
	size_t used;
};

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = malloc(sizeof(*b) + size);

	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_new(size_t block_size, size_t max_total)
{
	struct arena *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	if (block_size < 1024)
		block_size = 1024;
	a->first = block_new(block_size);
	if (a->first == NULL) {
		free(a);
		return NULL;
	}
	a->head = a->first;
	a->block_size = block_size;
	a->max_total = max_total;
	return a;
}

static void run_cleanups(struct arena *a)
{
	while (a->cleanups != NULL) {
		struct arena_cleanup *c = a->cleanups;

		a->cleanups = c->next;
		c->fn(c->ptr);
	}
}

void arena_reset(struct arena *a)
{
	struct arena_block *b;

	if (a == NULL)
		return;
	/* Cleanup records live in the arena, so run them before freeing. */
	run_cleanups(a);
	/* Dedicated big blocks may sit behind the first one, so walk it all. */
	b = a->head;
	while (b != NULL) {
		struct arena_block *next = b->next;

		if (b != a->first)
			free(b);
		b = next;
	}
	a->first->used = 0;
	a->first->next = NULL;
	a->head = a->first;
	a->total = 0;
	a->used = 0;
}

void arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	free(a->first);
	free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b;
	size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);

	if (need < size)
		return NULL; /* overflow */
	if (need == 0)
		need = ARENA_ALIGN;
	b = a->head;
	if (b->size - b->used < need) {
		size_t bsize = need > a->block_size / 4 ? need : a->block_size;

		if (a->max_total != 0 && (bsize > a->max_total || a->total > a->max_total - bsize))
			return NULL;
		b = block_new(bsize);
		if (b == NULL)
			return NULL;
		a->total += bsize;
		if (bsize == need && a->head->size - a->head->used >= ARENA_ALIGN * 8) {
			/* A dedicated big block goes behind the head so the head's
			 * free space stays usable for small allocations. */
			b->next = a->head->next;
			a->head->next = b;
			b->used = need;
			a->used += need;
			return b->data;
		}
		b->next = a->head;
		a->head = b;
	}
	b->used += need;
	a->used += need;
	return b->data + b->used - need;
}

void *arena_calloc(struct arena *a, size_t count, size_t size)
{
	void *p;

	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	p = arena_alloc(a, count * size);
	if (p != NULL)
		memset(p, 0, count * size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list copy;
	int n;
	char *p;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return NULL;
	p = arena_alloc(a, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

int arena_defer(struct arena *a, void (*fn)(void *), void *ptr)
{
	struct arena_cleanup *c = arena_alloc(a, sizeof(*c));

	if (c == NULL) {
		fn(ptr);
		return -1;
	}
	c->fn = fn;
	c->ptr = ptr;
	c->next = a->cleanups;
	a->cleanups = c;
	return 0;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}
