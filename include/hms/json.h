/*
 * json.h - the one JSON parser for untrusted text, and the UTF-8 check it
 * (and the URL decoder) relies on.
 *
 * Request bodies and token segments are parsed here: valid UTF-8 without
 * NUL, exactly RFC 8259's grammar (checked by our own scanner, not json-c's
 * strict mode, whose rules differ between json-c releases), finite numbers,
 * bounded nesting, nothing after the document; integers beyond 64 bits are
 * parsed and left to json_int64 to refuse on their field. The tree belongs
 * to the caller's arena.
 */
#ifndef HMS_JSON_H
#define HMS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "hms/err.h"

struct arena;
struct json_object;

/* The deepest nesting json_parse accepts, whatever max_depth asks
 * (json_max_depth's upper bound). */
#define JSON_MAX_DEPTH 512

/* Parses a JSON document: valid UTF-8, no trailing data, at most max_depth
 * levels. The tree is owned by the arena. On failure *detail says why. */
enum hms_err json_parse(struct arena *arena, const char *text, size_t len, int max_depth,
                        struct json_object **out, const char **detail);

/* True when s is well-formed UTF-8 (no overlongs, surrogates or NUL). */
bool utf8_is_valid(const char *s, size_t len);

/* One code point from s[0..len) (Unicode Table 3-7: no overlongs,
 * surrogates or values past U+10FFFF) into *cp. Returns its byte count, or
 * 0 when s does not start with a well-formed sequence (len must be > 0). */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* The value of a JSON integer exactly as the client sent it; false for a
 * non-integer or one outside (INT64_MIN, INT64_MAX], which json-c would
 * have clamped. */
bool json_int64(struct json_object *v, int64_t *out);

#endif
