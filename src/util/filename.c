/*
 * filename.c - cleaning an uploaded file's name and offering it back in a
 * Content-Disposition header (see include/hms/filename.h).
 *
 * The cleaning is a filter over code points, so it works on the raw bytes
 * in one pass without allocating: the name is decoded strictly (invalid
 * bytes are skipped one at a time), each code point is kept, dropped or
 * turned into a plain space, and the kept text goes to a fixed work buffer.
 * Then the ends are trimmed and the length is bounded. Because the decoder
 * never lets a multi-byte sequence swallow an ASCII byte, filtering a piece
 * of the name that starts at a '.' gives the same text as that piece of the
 * filtered whole: that is how the extension of a name too long for the work
 * buffer is still found.
 */
#include "hms/filename.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/json.h"

/* Enough for any name worth keeping whole, and the head of a longer one. */
#define WORK_BYTES (4 * FILENAME_SANITIZED_MAX)
/* The longest extension kept when a name is cut (".pdf", ".tar.gz", ...). */
#define EXT_MAX 32

enum verdict { KEEP, DROP, SPACE };

/* What becomes of one code point. Dropped: what cannot be seen or changes
 * how the text around it is shown. Kept: ZWJ and ZWNJ, which scripts and
 * emoji need, and variation selectors. */
static enum verdict judge(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return DROP; /* C0, DEL, C1 */
	if (cp < 0x7f)
		return KEEP;
	switch (cp) {
	case 0x00a0: /* no-break space */
	case 0x1680: /* ogham space mark */
	case 0x202f: /* narrow no-break space */
	case 0x205f: /* medium mathematical space */
	case 0x3000: /* ideographic space */
		return SPACE;
	case 0x00ad: /* soft hyphen */
	case 0x034f: /* combining grapheme joiner */
	case 0x061c: /* arabic letter mark */
	case 0x115f: /* hangul choseong filler */
	case 0x1160: /* hangul jungseong filler */
	case 0x17b4: /* khmer vowel inherent aq */
	case 0x17b5: /* khmer vowel inherent aa */
	case 0x180e: /* mongolian vowel separator */
	case 0x200b: /* zero width space */
	case 0x200e: /* left-to-right mark */
	case 0x200f: /* right-to-left mark */
	case 0x3164: /* hangul filler */
	case 0xfeff: /* byte order mark, zero width no-break space */
	case 0xffa0: /* halfwidth hangul filler */
		return DROP;
	default:
		break;
	}
	if (cp >= 0x2000 && cp <= 0x200a)
		return SPACE;                   /* en quad .. hair space */
	if ((cp >= 0x2028 && cp <= 0x202e) ||   /* line/paragraph separators, bidi embeddings */
	    (cp >= 0x2060 && cp <= 0x206f) ||   /* word joiner, invisible operators, isolates */
	    (cp >= 0xfff9 && cp <= 0xfffb) ||   /* interlinear annotation */
	    (cp >= 0x1d173 && cp <= 0x1d17a) || /* musical format characters */
	    (cp >= 0xe0000 && cp <= 0xe007f))   /* tag characters */
		return DROP;
	if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
		return DROP; /* noncharacters */
	return KEEP;
}

/* Filters s[0..len) into out (out_size bytes); returns the bytes written.
 * Stops before a code point that would not fit and then sets *overflow. */
static size_t filter(const char *s, size_t len, char *out, size_t out_size, bool *overflow)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n = 0;

	*overflow = false;
	while (i < len) {
		uint32_t cp;
		size_t k = utf8_decode((const char *)u + i, len - i, &cp);
		enum verdict v;

		if (k == 0) {
			i++; /* an invalid byte: skip it alone and resynchronise */
			continue;
		}
		v = judge(cp);
		if (v != DROP) {
			size_t w = v == SPACE ? 1 : k;

			if (out_size - n < w) {
				*overflow = true;
				break;
			}
			if (v == SPACE)
				out[n] = ' ';
			else
				memcpy(out + n, s + i, k);
			n += w;
		}
		i += k;
	}
	return n;
}

static bool is_trimmed(char c)
{
	return c == '.' || c == ' ';
}

/* Longest prefix of s[0..max) that ends on a character boundary. */
static size_t cut_utf8(const char *s, size_t max)
{
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

size_t filename_sanitize(const char *name, size_t len, char out[FILENAME_SANITIZED_MAX + 1])
{
	char work[WORK_BYTES];
	const char *base = name;
	size_t n, b = 0, e;
	bool overflow;

	if (name == NULL)
		len = 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == '\\')
			base = name + i + 1;
	len -= (size_t)(base - name);

	n = filter(base, len, work, sizeof(work), &overflow);
	if (overflow) {
		/* Too long to keep anyway: the head we have, and the extension
		 * from the end of the raw name, filtered the same way. */
		const char *d = memrchr(base, '.', len);
		char ext[EXT_MAX + 1];
		bool ext_overflow;
		size_t x;

		if (d != NULL) {
			x = filter(d, len - (size_t)(d - base), ext, sizeof(ext), &ext_overflow);
			if (!ext_overflow) {
				n = cut_utf8(work, WORK_BYTES - EXT_MAX - 1);
				memcpy(work + n, ext, x);
				n += x;
			}
		}
	}

	while (b < n && is_trimmed(work[b]))
		b++;
	e = n;
	while (e > b && is_trimmed(work[e - 1]))
		e--;

	if (e - b > FILENAME_SANITIZED_MAX) {
		const char *d = memrchr(work + b, '.', e - b);
		size_t ext_len = d != NULL ? (size_t)(work + e - d) : 0;
		size_t stem;

		if (d != NULL && d > work + b && ext_len <= EXT_MAX) {
			stem = cut_utf8(work + b, FILENAME_SANITIZED_MAX - ext_len);
			while (stem > 0 && is_trimmed(work[b + stem - 1]))
				stem--;
			memmove(work + b + stem, d, ext_len);
			e = b + stem + ext_len;
		} else {
			e = b + cut_utf8(work + b, FILENAME_SANITIZED_MAX);
			while (e > b && is_trimmed(work[e - 1]))
				e--;
		}
	}

	if (e == b) {
		memcpy(out, FILENAME_FALLBACK, sizeof(FILENAME_FALLBACK));
		return sizeof(FILENAME_FALLBACK) - 1;
	}
	memcpy(out, work + b, e - b);
	out[e - b] = '\0';
	return e - b;
}

char *filename_content_disposition(struct arena *arena, const char *name, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char head[] = "attachment; filename=\"";
	static const char middle[] = "\"; filename*=UTF-8''";
	char clean[FILENAME_SANITIZED_MAX + 1];
	size_t n = filename_sanitize(name, len, clean);
	char *buf = arena_alloc(arena, sizeof(head) + n + sizeof(middle) + 3 * n + 1);
	char *w = buf;

	if (buf == NULL)
		return NULL;
	memcpy(w, head, sizeof(head) - 1);
	w += sizeof(head) - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)clean[i];

		if (c >= 0x80 && c <= 0xbf)
			continue; /* the rest of a character already replaced */
		*w++ = c >= 0x80 || c == '"' || c == '\\' || c == '%' ? '_' : (char)c;
	}
	memcpy(w, middle, sizeof(middle) - 1);
	w += sizeof(middle) - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)clean[i];

		if (filename_is_attr_char(c)) {
			*w++ = (char)c;
		} else {
			*w++ = '%';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 0xf];
		}
	}
	*w = '\0';
	return buf;
}

bool filename_is_attr_char(unsigned char c)
{
	/* RFC 8187 attr-char */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}
