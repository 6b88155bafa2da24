/*
 * multipart.c - the streaming multipart/form-data parser (see
 * include/hms/multipart.h).
 *
 * A body is a preamble, then parts each introduced by a delimiter line
 * ("--" boundary, optional padding, CRLF), then a final delimiter
 * ("--" boundary "--") and an epilogue. Inside the body the delimiter is
 * CRLF "--" boundary: the CRLF before it belongs to the delimiter, not to the
 * part's data. The preamble is scanned as if a CRLF came before the body, so
 * a body that starts with the first delimiter needs no special case.
 *
 * Finding the delimiter needs no buffer. The delimiter starts with CR and
 * holds no other CR (a boundary cannot contain one), so when a partial match
 * fails, none of the matched bytes can start another match: they are all
 * data, and they are exactly the first `match` bytes of the delimiter. The
 * parser therefore keeps only the count, and a match that spans feed calls
 * is given back from the delimiter string itself when it turns out to be
 * data. Part headers are collected in one buffer of limits.max_header_bytes
 * and parsed when the blank line arrives; the decoded name, file name and
 * Content-Type go to a second buffer. Both are allocated once, in
 * multipart_parser_new().
 */
#include "hms/multipart.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/filename.h"
#include "hms/json.h"

/* Spaces and tabs allowed after a boundary on its line (RFC 2046
 * transport-padding); more is not padding but an attack on our patience. */
#define MAX_PADDING 64

/* CRLF "--" boundary */
#define DELIM_MAX (4 + MULTIPART_BOUNDARY_MAX)

enum state {
	ST_PREAMBLE,   /* looking for the first delimiter; discarding */
	ST_DELIM,      /* after a delimiter: "--", padding or CRLF */
	ST_DELIM_CR,   /* after a delimiter's CR: LF */
	ST_DELIM_DASH, /* after a delimiter's first '-': the second */
	ST_HEADERS,    /* collecting a part's header block */
	ST_BODY,       /* passing a part's data on, looking for the delimiter */
	ST_CLOSE,      /* after the final delimiter: padding or CRLF */
	ST_CLOSE_CR,   /* after the final delimiter's CR: LF */
	ST_EPILOGUE,   /* discarding, but no further delimiter may come */
	ST_FINISHED,
	ST_FAILED,
};

struct multipart_parser {
	struct multipart_callbacks cb;
	void *user;
	size_t max_header_bytes;
	size_t max_parts;

	char delim[DELIM_MAX + 1]; /* CRLF "--" boundary */
	size_t delim_len;
	size_t match; /* bytes of delim matched so far (maybe in earlier feeds) */

	enum state state;
	enum multipart_error err; /* when ST_FAILED */
	size_t pad;               /* padding bytes on the current boundary line */
	size_t parts;             /* parts begun */

	char *header; /* the current part's header block */
	size_t header_len;
	char *strings; /* decoded name, filename, content type */
	struct multipart_part part;
};

struct span {
	const char *s;
	size_t len;
};

/* --- characters --- */

static bool is_tchar(unsigned char c)
{
	/* RFC 9110 token characters */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_bchar_nospace(unsigned char c)
{
	/* RFC 2046 bcharsnospace */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("'()+_,-./:=?", c) != NULL);
}

/* An unquoted parameter value: visible ASCII but for the characters that
 * end or quote a value (a superset of token, so that unquoted boundaries
 * with ':' or '/' and raw UTF-8 are read; their own checks come later). */
static bool is_value_char(unsigned char c)
{
	return (c > 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\') || c >= 0x80;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* True when s[0..len) is word in any case (word is lower case). */
static bool equals_word(const char *s, size_t len, const char *word)
{
	if (len != strlen(word))
		return false;
	for (size_t i = 0; i < len; i++)
		if (lower((unsigned char)s[i]) != (unsigned char)word[i])
			return false;
	return true;
}

static size_t skip_ows(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static bool boundary_is_valid(const char *b, size_t len)
{
	if (len == 0 || len > MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++)
		if (b[i] != ' ' && !is_bchar_nospace((unsigned char)b[i]))
			return false;
	return true;
}

/* --- header parameters (Content-Type, Content-Disposition) --- */

/*
 * Reads the next `; key=value` of s[*pos..len): 1 with key and value set, 0
 * at the end, -1 when malformed. A quoted value's span excludes the quotes
 * and still holds its escapes (see unquote()). A final ';' is allowed.
 */
static int next_param(const char *s, size_t len, size_t *pos, struct span *key, struct span *value,
                      bool *quoted)
{
	size_t i = skip_ows(s, len, *pos), k;

	if (i == len)
		return 0;
	if (s[i] != ';')
		return -1;
	i = skip_ows(s, len, i + 1);
	if (i == len) {
		*pos = i;
		return 0;
	}
	k = i;
	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	if (i == k || i == len || s[i] != '=')
		return -1;
	*key = (struct span){s + k, i - k};
	i++;
	if (i < len && s[i] == '"') {
		size_t v = ++i;

		/* A backslash escapes only '"' and '\': browsers send Windows
		 * paths in file names without escaping their backslashes. */
		while (i < len && s[i] != '"')
			i += s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\')
			         ? 2
			         : 1;
		if (i == len)
			return -1;
		*value = (struct span){s + v, i - v};
		*quoted = true;
		i++;
	} else {
		size_t v = i;

		while (i < len && is_value_char((unsigned char)s[i]))
			i++;
		if (i == v)
			return -1;
		*value = (struct span){s + v, i - v};
		*quoted = false;
	}
	*pos = i;
	return 1;
}

/* Copies a value, resolving a quoted string's escapes, into out (out_size
 * bytes, NUL included). Returns its length, or SIZE_MAX when it does not
 * fit. */
static size_t unquote(struct span v, bool quoted, char *out, size_t out_size)
{
	size_t n = 0;

	for (size_t i = 0; i < v.len; i++) {
		if (quoted && v.s[i] == '\\' && i + 1 < v.len &&
		    (v.s[i + 1] == '"' || v.s[i + 1] == '\\'))
			i++;
		if (n + 1 >= out_size)
			return SIZE_MAX;
		out[n++] = v.s[i];
	}
	if (out_size == 0)
		return SIZE_MAX;
	out[n] = '\0';
	return n;
}

enum multipart_error multipart_boundary(const char *content_type,
                                        char out[MULTIPART_BOUNDARY_MAX + 1])
{
	size_t len, i, k, pos;
	struct span key, value;
	bool quoted, found = false;

	if (out == NULL)
		return MULTIPART_ERR_USAGE;
	out[0] = '\0';
	if (content_type == NULL)
		return MULTIPART_ERR_NOT_MULTIPART;
	len = strlen(content_type);
	i = k = skip_ows(content_type, len, 0);
	while (i < len && (is_tchar((unsigned char)content_type[i]) || content_type[i] == '/'))
		i++;
	if (!equals_word(content_type + k, i - k, "multipart/form-data"))
		return MULTIPART_ERR_NOT_MULTIPART;

	pos = i;
	for (;;) {
		int r = next_param(content_type, len, &pos, &key, &value, &quoted);

		if (r < 0) {
			out[0] = '\0';
			return MULTIPART_ERR_BAD_CONTENT_TYPE;
		}
		if (r == 0)
			break;
		if (!equals_word(key.s, key.len, "boundary"))
			continue;
		if (found) {
			out[0] = '\0';
			return MULTIPART_ERR_BAD_BOUNDARY;
		}
		found = true;
		k = unquote(value, quoted, out, MULTIPART_BOUNDARY_MAX + 1);
		if (k == SIZE_MAX || !boundary_is_valid(out, k)) {
			out[0] = '\0';
			return MULTIPART_ERR_BAD_BOUNDARY;
		}
	}
	return found ? MULTIPART_OK : MULTIPART_ERR_NO_BOUNDARY;
}

/* --- part headers --- */

/* RFC 8187 ext-value (charset'language'value-chars) decoded to UTF-8 into
 * out, which has room for twice v.len plus the NUL. Returns the length, or
 * SIZE_MAX when it is malformed, in another charset or not valid text. */
static size_t decode_ext_value(struct span v, char *out)
{
	const char *q1 = memchr(v.s, '\'', v.len), *q2;
	bool latin1;
	size_t n = 0;

	if (q1 == NULL)
		return SIZE_MAX;
	q2 = memchr(q1 + 1, '\'', v.len - (size_t)(q1 + 1 - v.s));
	if (q2 == NULL)
		return SIZE_MAX;
	if (equals_word(v.s, (size_t)(q1 - v.s), "utf-8"))
		latin1 = false;
	else if (equals_word(v.s, (size_t)(q1 - v.s), "iso-8859-1"))
		latin1 = true;
	else
		return SIZE_MAX;
	for (const char *l = q1 + 1; l < q2; l++) /* a language tag, ignored */
		if (!(*l >= 'a' && *l <= 'z') && !(*l >= 'A' && *l <= 'Z') &&
		    !(*l >= '0' && *l <= '9') && *l != '-')
			return SIZE_MAX;

	for (const char *c = q2 + 1; c < v.s + v.len; c++) {
		unsigned char b = (unsigned char)*c;

		if (b == '%') {
			int hi, lo;

			if (v.s + v.len - c < 3)
				return SIZE_MAX;
			hi = hex_value((unsigned char)c[1]);
			lo = hex_value((unsigned char)c[2]);
			if (hi < 0 || lo < 0)
				return SIZE_MAX;
			b = (unsigned char)(hi << 4 | lo);
			c += 2;
		} else if (!filename_is_attr_char(b)) {
			return SIZE_MAX;
		}
		if (latin1 && b >= 0x80) {
			out[n++] = (char)(0xc0 | b >> 6);
			out[n++] = (char)(0x80 | (b & 0x3f));
		} else {
			out[n++] = (char)b;
		}
	}
	out[n] = '\0';
	return utf8_is_valid(out, n) ? n : SIZE_MAX;
}

/* The parameters of Content-Disposition that we use. */
struct disposition_param {
	const char *key;
	bool present;
	bool quoted;
	struct span value;
};

/* Parses a Content-Disposition value into p->part.name and .filename,
 * writing the decoded strings at *cursor. */
static enum multipart_error parse_disposition(struct multipart_parser *p, struct span v,
                                              char **cursor)
{
	struct disposition_param params[] = {{"name"}, {"filename"}, {"filename*"}};
	struct disposition_param *name = &params[0], *filename = &params[1], *ext = &params[2];
	struct span key, value;
	size_t i = 0, n;
	bool quoted;

	while (i < v.len && is_tchar((unsigned char)v.s[i]))
		i++;
	if (!equals_word(v.s, i, "form-data"))
		return MULTIPART_ERR_BAD_DISPOSITION;
	for (;;) {
		int r = next_param(v.s, v.len, &i, &key, &value, &quoted);

		if (r < 0)
			return MULTIPART_ERR_BAD_DISPOSITION;
		if (r == 0)
			break;
		for (size_t k = 0; k < sizeof(params) / sizeof(params[0]); k++) {
			if (!equals_word(key.s, key.len, params[k].key))
				continue;
			/* Two names: which one would another parser take? */
			if (params[k].present)
				return MULTIPART_ERR_BAD_DISPOSITION;
			params[k].present = true;
			params[k].quoted = quoted;
			params[k].value = value;
		}
	}

	if (!name->present)
		return MULTIPART_ERR_NO_NAME;
	n = unquote(name->value, name->quoted, *cursor, name->value.len + 1);
	if (n == 0)
		return MULTIPART_ERR_NO_NAME;
	if (!utf8_is_valid(*cursor, n))
		return MULTIPART_ERR_BAD_NAME;
	p->part.name = *cursor;
	*cursor += n + 1;

	if (ext->present) {
		/* An ext-value is never a quoted string, and a valid one has no
		 * '"' or '\' to unescape, so quoted or not it is read as is. */
		n = decode_ext_value(ext->value, *cursor);
		if (n == SIZE_MAX)
			return MULTIPART_ERR_BAD_FILENAME;
	} else if (filename->present) {
		n = unquote(filename->value, filename->quoted, *cursor, filename->value.len + 1);
		if (!utf8_is_valid(*cursor, n))
			return MULTIPART_ERR_BAD_FILENAME;
	} else {
		return MULTIPART_OK;
	}
	p->part.filename = *cursor;
	*cursor += n + 1;
	return MULTIPART_OK;
}

/* Parses the header block in p->header (lines ending in CRLF, then a blank
 * line) into p->part. */
static enum multipart_error parse_headers(struct multipart_parser *p)
{
	const char *h = p->header, *end = p->header + p->header_len;
	char *cursor = p->strings;
	bool has_disposition = false, has_encoding = false;
	enum multipart_error e;

	p->part = (struct multipart_part){.index = p->parts};
	for (;;) {
		/* The block ends in CRLF CRLF (or is one CRLF), so this finds one. */
		const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
		const char *colon;
		struct span v;

		if (eol == NULL || eol == h)
			break;
		colon = memchr(h, ':', (size_t)(eol - h));
		if (colon == NULL || colon == h)
			return MULTIPART_ERR_BAD_HEADER;
		for (const char *c = h; c < colon; c++)
			if (!is_tchar((unsigned char)*c))
				return MULTIPART_ERR_BAD_HEADER; /* folding, spaces, control bytes
				                                  */
		v.s = colon + 1 + (skip_ows(colon + 1, (size_t)(eol - colon - 1), 0));
		v.len = (size_t)(eol - v.s);
		while (v.len > 0 && (v.s[v.len - 1] == ' ' || v.s[v.len - 1] == '\t'))
			v.len--;
		for (size_t i = 0; i < v.len; i++) {
			unsigned char c = (unsigned char)v.s[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return MULTIPART_ERR_BAD_HEADER; /* NUL, a bare CR or LF */
		}

		if (equals_word(h, (size_t)(colon - h), "content-disposition")) {
			if (has_disposition)
				return MULTIPART_ERR_REPEATED_HEADER;
			has_disposition = true;
			e = parse_disposition(p, v, &cursor);
			if (e != MULTIPART_OK)
				return e;
		} else if (equals_word(h, (size_t)(colon - h), "content-type")) {
			if (p->part.content_type != NULL)
				return MULTIPART_ERR_REPEATED_HEADER;
			for (size_t i = 0; i < v.len; i++)
				if ((unsigned char)v.s[i] < 0x20 || (unsigned char)v.s[i] > 0x7e)
					return MULTIPART_ERR_BAD_HEADER;
			memcpy(cursor, v.s, v.len);
			cursor[v.len] = '\0';
			p->part.content_type = cursor;
			cursor += v.len + 1;
		} else if (equals_word(h, (size_t)(colon - h), "content-transfer-encoding")) {
			/* Deprecated by RFC 7578; base64 or quoted-printable would
			 * have us store the encoded text as the file. */
			if (has_encoding)
				return MULTIPART_ERR_REPEATED_HEADER;
			has_encoding = true;
			if (!equals_word(v.s, v.len, "binary") &&
			    !equals_word(v.s, v.len, "8bit") && !equals_word(v.s, v.len, "7bit"))
				return MULTIPART_ERR_BAD_ENCODING;
		}
		h = eol + 2;
	}
	return has_disposition ? MULTIPART_OK : MULTIPART_ERR_NO_DISPOSITION;
}

/* --- the body --- */

static enum multipart_error emit(struct multipart_parser *p, const char *data, size_t len)
{
	if (len == 0 || p->state != ST_BODY || p->cb.on_part_data == NULL)
		return MULTIPART_OK;
	return p->cb.on_part_data(p->user, data, len) == 0 ? MULTIPART_OK : MULTIPART_ERR_ABORTED;
}

/*
 * Scans data[*pos..len) for the delimiter, passing what precedes it on as
 * part data in ST_BODY (and dropping it otherwise). Sets *found when the
 * whole delimiter has been read; *pos is then just past it.
 *
 * carry counts the matched bytes that came in earlier feeds: they are not in
 * data, but they are delim[0..carry). Bytes of a partial match in this chunk
 * stay unsent until the match fails (they are then sent with the data after
 * them) or the chunk ends (they are then the next call's carry).
 */
static enum multipart_error scan(struct multipart_parser *p, const char *data, size_t len,
                                 size_t *pos, bool *found)
{
	size_t i = *pos, start = i, carry = p->match;
	enum multipart_error e;

	*found = false;
	while (i < len) {
		if (p->match == 0) {
			const char *cr = memchr(data + i, '\r', len - i);

			if (cr == NULL) {
				i = len;
				break;
			}
			i = (size_t)(cr - data) + 1;
			p->match = 1;
		} else if (data[i] == p->delim[p->match]) {
			i++;
			if (++p->match == p->delim_len) {
				e = emit(p, data + start, i - (p->delim_len - carry) - start);
				p->match = 0;
				*pos = i;
				*found = e == MULTIPART_OK;
				return e;
			}
		} else {
			/* Not the delimiter after all: what matched is data, and
			 * none of it can begin a match (only delim[0] is a CR). */
			if (carry > 0) {
				e = emit(p, p->delim, carry);
				if (e != MULTIPART_OK)
					return e;
				carry = 0;
			}
			p->match = 0; /* and look at data[i] again */
		}
	}
	*pos = i;
	return emit(p, data + start, i - (p->match - carry) - start);
}

/* Collects header bytes up to the blank line, then begins the part. */
static enum multipart_error read_headers(struct multipart_parser *p, const char *data, size_t len,
                                         size_t *pos)
{
	while (*pos < len) {
		const char *lf = memchr(data + *pos, '\n', len - *pos);
		size_t n = lf != NULL ? (size_t)(lf - data) + 1 - *pos : len - *pos;
		const char *h = p->header;
		enum multipart_error e;

		if (n > p->max_header_bytes - p->header_len)
			return MULTIPART_ERR_HEADER_TOO_LARGE;
		memcpy(p->header + p->header_len, data + *pos, n);
		p->header_len += n;
		*pos += n;
		if (lf == NULL)
			break;
		if (!(p->header_len == 2 && h[0] == '\r') &&
		    !(p->header_len >= 4 && memcmp(h + p->header_len - 4, "\r\n\r\n", 4) == 0))
			continue;

		e = parse_headers(p);
		if (e != MULTIPART_OK)
			return e;
		p->parts++;
		p->state = ST_BODY;
		p->match = 0;
		if (p->cb.on_part_begin != NULL && p->cb.on_part_begin(p->user, &p->part) != 0)
			return MULTIPART_ERR_ABORTED;
		break;
	}
	return MULTIPART_OK;
}

enum multipart_error multipart_parser_new(struct arena *arena, const char *boundary,
                                          const struct multipart_limits *limits,
                                          const struct multipart_callbacks *callbacks, void *user,
                                          struct multipart_parser **out)
{
	struct multipart_parser *p;
	size_t blen;

	if (out == NULL)
		return MULTIPART_ERR_USAGE;
	*out = NULL;
	if (arena == NULL || boundary == NULL || callbacks == NULL)
		return MULTIPART_ERR_USAGE;
	blen = strnlen(boundary, MULTIPART_BOUNDARY_MAX + 1);
	if (!boundary_is_valid(boundary, blen))
		return MULTIPART_ERR_BAD_BOUNDARY;
	p = arena_calloc(arena, 1, sizeof(*p));
	if (p == NULL)
		return MULTIPART_ERR_NOMEM;
	p->max_header_bytes = MULTIPART_DEFAULT_HEADER_BYTES;
	p->max_parts = MULTIPART_DEFAULT_PARTS;
	if (limits != NULL && limits->max_header_bytes != 0)
		p->max_header_bytes = limits->max_header_bytes;
	if (limits != NULL && limits->max_parts != 0)
		p->max_parts = limits->max_parts;
	if (p->max_header_bytes > MULTIPART_MAX_HEADER_BYTES)
		return MULTIPART_ERR_USAGE;

	p->cb = *callbacks;
	p->user = user;
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, blen);
	p->delim_len = 4 + blen;
	p->delim[p->delim_len] = '\0';
	p->header = arena_alloc(arena, p->max_header_bytes);
	/* Decoded strings come from disjoint pieces of the header block; only
	 * an ISO-8859-1 filename* can grow, to twice its size. Three NULs. */
	p->strings = arena_alloc(arena, 2 * p->max_header_bytes + 3);
	if (p->header == NULL || p->strings == NULL)
		return MULTIPART_ERR_NOMEM;
	p->state = ST_PREAMBLE;
	p->match = 2; /* as if a CRLF came before the body */
	*out = p;
	return MULTIPART_OK;
}

static bool is_padding(char c)
{
	return c == ' ' || c == '\t';
}

enum multipart_error multipart_feed(struct multipart_parser *p, const char *data, size_t len)
{
	size_t i = 0;

	if (p == NULL || (data == NULL && len > 0))
		return MULTIPART_ERR_USAGE;
	if (p->state == ST_FAILED)
		return p->err;
	if (p->state == ST_FINISHED)
		return MULTIPART_ERR_USAGE;

	while (i < len) {
		enum multipart_error e = MULTIPART_OK;
		bool found;
		char c;

		switch (p->state) {
		case ST_PREAMBLE:
		case ST_BODY:
		case ST_EPILOGUE:
			e = scan(p, data, len, &i, &found);
			if (e != MULTIPART_OK || !found)
				break;
			if (p->state == ST_EPILOGUE) {
				/* A part after the end: some parser might take it. */
				e = MULTIPART_ERR_AFTER_END;
				break;
			}
			if (p->state == ST_BODY && p->cb.on_part_end != NULL &&
			    p->cb.on_part_end(p->user) != 0) {
				e = MULTIPART_ERR_ABORTED;
				break;
			}
			p->state = ST_DELIM;
			p->pad = 0;
			break;
		case ST_DELIM:
			c = data[i++];
			if (c == '-' && p->pad == 0)
				p->state = ST_DELIM_DASH;
			else if (c == '\r')
				p->state = ST_DELIM_CR;
			else if (!is_padding(c) || ++p->pad > MAX_PADDING)
				e = MULTIPART_ERR_BAD_DELIMITER;
			break;
		case ST_DELIM_CR:
			if (data[i++] != '\n') {
				e = MULTIPART_ERR_BAD_DELIMITER;
			} else if (p->parts == p->max_parts) {
				e = MULTIPART_ERR_TOO_MANY_PARTS;
			} else {
				p->state = ST_HEADERS;
				p->header_len = 0;
			}
			break;
		case ST_DELIM_DASH:
			if (data[i++] != '-') {
				e = MULTIPART_ERR_BAD_DELIMITER;
			} else if (p->parts == 0) {
				e = MULTIPART_ERR_NO_PARTS;
			} else {
				p->state = ST_CLOSE;
				p->pad = 0;
			}
			break;
		case ST_HEADERS:
			e = read_headers(p, data, len, &i);
			break;
		case ST_CLOSE:
			c = data[i++];
			if (c == '\r')
				p->state = ST_CLOSE_CR;
			else if (!is_padding(c) || ++p->pad > MAX_PADDING)
				e = MULTIPART_ERR_BAD_DELIMITER;
			break;
		case ST_CLOSE_CR:
			if (data[i++] != '\n') {
				e = MULTIPART_ERR_BAD_DELIMITER;
			} else {
				p->state = ST_EPILOGUE;
				p->match = 2; /* the CRLF may begin a delimiter line */
			}
			break;
		default:
			e = MULTIPART_ERR_USAGE;
			break;
		}
		if (e != MULTIPART_OK) {
			p->state = ST_FAILED;
			p->err = e;
			return e;
		}
	}
	return MULTIPART_OK;
}

enum multipart_error multipart_finish(struct multipart_parser *p)
{
	if (p == NULL)
		return MULTIPART_ERR_USAGE;
	switch (p->state) {
	case ST_FAILED:
		return p->err;
	case ST_FINISHED:
		return MULTIPART_ERR_USAGE;
	case ST_CLOSE:
	case ST_EPILOGUE:
		p->state = ST_FINISHED;
		return MULTIPART_OK;
	default:
		p->state = ST_FAILED;
		p->err = MULTIPART_ERR_TRUNCATED;
		return p->err;
	}
}

/* --- errors --- */

static const struct {
	enum hms_err hms;
	const char *message;
} errors[] = {
    [MULTIPART_OK] = {HMS_OK, "OK."},
    [MULTIPART_ERR_NOT_MULTIPART] = {HMS_ERR_MEDIA_TYPE,
                                     "Unsupported media type; send multipart/form-data."},
    [MULTIPART_ERR_BAD_CONTENT_TYPE] = {HMS_ERR_BAD_REQUEST,
                                        "The Content-Type header is malformed."},
    [MULTIPART_ERR_NO_BOUNDARY] = {HMS_ERR_BAD_REQUEST,
                                   "The Content-Type header has no boundary parameter."},
    [MULTIPART_ERR_BAD_BOUNDARY] = {HMS_ERR_BAD_REQUEST,
                                    "The multipart boundary is not valid: it must be given once, "
                                    "with 1 to 70 characters allowed by RFC 2046."},
    [MULTIPART_ERR_BAD_DELIMITER] = {HMS_ERR_BAD_REQUEST,
                                     "A multipart boundary line is followed by something other "
                                     "than a line break or the final \"--\"."},
    [MULTIPART_ERR_NO_PARTS] = {HMS_ERR_BAD_REQUEST, "The multipart body has no parts."},
    [MULTIPART_ERR_TOO_MANY_PARTS] = {HMS_ERR_BAD_REQUEST,
                                      "The multipart body has too many parts."},
    [MULTIPART_ERR_HEADER_TOO_LARGE] = {HMS_ERR_BAD_REQUEST,
                                        "The headers of a multipart part are too large."},
    [MULTIPART_ERR_BAD_HEADER] = {HMS_ERR_BAD_REQUEST,
                                  "A multipart part has a malformed header line."},
    [MULTIPART_ERR_REPEATED_HEADER] = {HMS_ERR_BAD_REQUEST,
                                       "A multipart part repeats a header that may appear only "
                                       "once."},
    [MULTIPART_ERR_BAD_ENCODING] = {HMS_ERR_BAD_REQUEST,
                                    "A multipart part uses a Content-Transfer-Encoding other "
                                    "than 7bit, 8bit or binary."},
    [MULTIPART_ERR_NO_DISPOSITION] = {HMS_ERR_BAD_REQUEST,
                                      "A multipart part has no Content-Disposition header."},
    [MULTIPART_ERR_BAD_DISPOSITION] = {HMS_ERR_BAD_REQUEST,
                                       "A multipart part's Content-Disposition is not form-data, "
                                       "is malformed or repeats a parameter."},
    [MULTIPART_ERR_NO_NAME] = {HMS_ERR_BAD_REQUEST, "A multipart part has no field name."},
    [MULTIPART_ERR_BAD_NAME] = {HMS_ERR_BAD_REQUEST, "A multipart field name is not valid UTF-8."},
    [MULTIPART_ERR_BAD_FILENAME] = {HMS_ERR_BAD_REQUEST,
                                    "A multipart file name is not valid UTF-8 or its filename* "
                                    "encoding is malformed."},
    [MULTIPART_ERR_TRUNCATED] = {HMS_ERR_BAD_REQUEST,
                                 "The multipart body ended before its final boundary."},
    [MULTIPART_ERR_AFTER_END] = {HMS_ERR_BAD_REQUEST,
                                 "The multipart body has a boundary after its final boundary."},
    [MULTIPART_ERR_ABORTED] = {HMS_ERR_BAD_REQUEST, "The upload was refused."},
    [MULTIPART_ERR_NOMEM] = {HMS_ERR_NOMEM, "Internal server error."},
    [MULTIPART_ERR_USAGE] = {HMS_ERR_INTERNAL, "Internal server error."},
};

static bool is_known(enum multipart_error err)
{
	return (unsigned)err < sizeof(errors) / sizeof(errors[0]) && errors[err].message != NULL;
}

const char *multipart_error_message(enum multipart_error err)
{
	return is_known(err) ? errors[err].message : errors[MULTIPART_ERR_USAGE].message;
}

enum hms_err multipart_error_hms(enum multipart_error err)
{
	return is_known(err) ? errors[err].hms : HMS_ERR_INTERNAL;
}
