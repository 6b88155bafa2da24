/*
 * filename.h - what we do with the file name a client gives an upload.
 *
 * The name is kept only as metadata, shown back to users and offered as the
 * name of a download; files are stored under generated names. Even so it is
 * cleaned before it is stored: a name with path parts, control characters or
 * Unicode bidi overrides would mislead whoever sees it ("report<U+202E>fdp.exe"
 * displays as "reportexe.pdf") or break a header or log line it lands in.
 */
#ifndef HMS_FILENAME_H
#define HMS_FILENAME_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* The longest sanitized name, in bytes (NUL not counted). */
#define FILENAME_SANITIZED_MAX 255
/* What a name with nothing usable left becomes. */
#define FILENAME_FALLBACK "file"

/*
 * Writes a safe display form of name[0..len) to out and returns its length
 * (1..FILENAME_SANITIZED_MAX). Never fails; name may be NULL (len is then
 * ignored) and may hold NUL bytes, which are dropped like other control
 * characters. The result:
 *   - is the last path component only: after the last '/' or '\'
 *     ("../../etc/passwd" -> "passwd", "C:\tmp\a.pdf" -> "a.pdf");
 *   - is valid UTF-8 (invalid bytes are dropped) without control characters
 *     (C0, DEL, C1), bidi controls (U+061C, U+200E/F, U+202A-E, U+2066-9),
 *     invisible characters (zero-width space, word joiner, soft hyphen,
 *     BOM, Hangul fillers, tag characters, ...) or noncharacters; other
 *     Unicode spaces become ' ';
 *   - neither starts with '.' or ' ' (".htaccess" -> "htaccess", ".." ->
 *     "file") nor ends with '.' or ' ';
 *   - is cut to FILENAME_SANITIZED_MAX bytes on a character boundary,
 *     keeping an extension of up to 32 bytes ("aaaa...aaa.pdf" stays .pdf);
 *   - is FILENAME_FALLBACK when nothing is left.
 * Sanitizing a sanitized name gives it back unchanged.
 */
size_t filename_sanitize(const char *name, size_t len, char out[FILENAME_SANITIZED_MAX + 1]);

/*
 * The value of a Content-Disposition header for downloading a file called
 * name[0..len) (sanitized here first, so any name is safe to pass):
 *   attachment; filename="<ASCII>"; filename*=UTF-8''<percent-encoded UTF-8>
 * The quoted fallback, for old clients, has every non-ASCII character and
 * '"', '\' and '%' replaced by '_'; the RFC 8187 form keeps the name exactly,
 * escaping all but attr-char. Allocated in arena; NULL when out of memory.
 */
char *filename_content_disposition(struct arena *arena, const char *name, size_t len);

/* RFC 8187 attr-char: what a filename*= value carries unescaped (the
 * encoder here and the multipart parser's decoder agree on it). */
bool filename_is_attr_char(unsigned char c);

#endif
