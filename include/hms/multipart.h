/*
 * multipart.h - a streaming multipart/form-data parser (RFC 7578, RFC 2046).
 *
 * The upload handler reads the request body in chunks of any size and pushes
 * each one into multipart_feed(); the parser calls back at the start of each
 * part (with its field name, file name and Content-Type), with the part's
 * data as it goes by, and at its end. It never holds a part's data: only the
 * current part's header block (bounded) and nothing else, because the few
 * bytes that might be the start of a boundary are always a prefix of the
 * delimiter itself. So an upload of any size costs a fixed amount of memory,
 * taken once from the request's arena.
 *
 *	char boundary[MULTIPART_BOUNDARY_MAX + 1];
 *	struct multipart_parser *mp;
 *	enum multipart_error e = multipart_boundary(req->content_type, boundary);
 *	if (e == MULTIPART_OK)
 *		e = multipart_parser_new(req->arena, boundary, NULL, &callbacks, state, &mp);
 *	while (e == MULTIPART_OK && (n = read(...)) > 0)
 *		e = multipart_feed(mp, buf, n);
 *	if (e == MULTIPART_OK)
 *		e = multipart_finish(mp);
 *	if (e != MULTIPART_OK)
 *		http_respond_error(res, multipart_error_hms(e), multipart_error_message(e));
 *
 * The parser is strict where leniency would let two parsers disagree about
 * what was sent (a WAF or proxy and us): a boundary line with anything but
 * padding after it, a repeated header or parameter, a part after the final
 * boundary, a part without Content-Disposition: form-data and a name are all
 * refused. The preamble and the rest of the epilogue are ignored.
 *
 * Error messages never contain client data, so they can go to the client
 * and to the logs as they are.
 */
#ifndef HMS_MULTIPART_H
#define HMS_MULTIPART_H

#include <stddef.h>

#include "hms/err.h"

struct arena;
struct multipart_parser;

/* RFC 2046: a boundary is 1 to 70 characters. */
#define MULTIPART_BOUNDARY_MAX 70

/* Defaults for struct multipart_limits members left 0. */
#define MULTIPART_DEFAULT_HEADER_BYTES (8 * 1024)
#define MULTIPART_DEFAULT_PARTS        16
/* The largest header limit accepted (the parser allocates about 3 times it). */
#define MULTIPART_MAX_HEADER_BYTES (64 * 1024)

enum multipart_error {
	MULTIPART_OK = 0,
	/* From multipart_boundary(), about the request's Content-Type. */
	MULTIPART_ERR_NOT_MULTIPART,    /* 415: not multipart/form-data (or absent) */
	MULTIPART_ERR_BAD_CONTENT_TYPE, /* 400: the header's parameters do not parse */
	MULTIPART_ERR_NO_BOUNDARY,      /* 400: no boundary parameter */
	MULTIPART_ERR_BAD_BOUNDARY,     /* 400: empty, too long, a bad character, repeated */
	/* From multipart_feed() and multipart_finish(), about the body. */
	MULTIPART_ERR_BAD_DELIMITER,    /* 400: a boundary line followed by other than CRLF or -- */
	MULTIPART_ERR_NO_PARTS,         /* 400: the first boundary is the final one */
	MULTIPART_ERR_TOO_MANY_PARTS,   /* 400: more than limits.max_parts parts */
	MULTIPART_ERR_HEADER_TOO_LARGE, /* 400: a part's header block over limits.max_header_bytes
	                                 */
	MULTIPART_ERR_BAD_HEADER,       /* 400: a header line without a name, with control bytes */
	MULTIPART_ERR_REPEATED_HEADER,  /* 400: Content-Disposition or Content-Type twice */
	MULTIPART_ERR_BAD_ENCODING,     /* 400: Content-Transfer-Encoding not 7bit/8bit/binary */
	MULTIPART_ERR_NO_DISPOSITION,   /* 400: a part without Content-Disposition */
	MULTIPART_ERR_BAD_DISPOSITION,  /* 400: not form-data, malformed, a repeated parameter */
	MULTIPART_ERR_NO_NAME,          /* 400: no name parameter, or an empty one */
	MULTIPART_ERR_BAD_NAME,         /* 400: the name is not valid UTF-8 */
	MULTIPART_ERR_BAD_FILENAME,     /* 400: filename not UTF-8, or filename* badly encoded */
	MULTIPART_ERR_TRUNCATED,        /* 400: the body ended before the final boundary */
	MULTIPART_ERR_AFTER_END,        /* 400: another boundary line after the final one */
	/* Not the client's fault as such. */
	MULTIPART_ERR_ABORTED, /* a callback returned nonzero; the caller knows why */
	MULTIPART_ERR_NOMEM,   /* the arena is exhausted */
	MULTIPART_ERR_USAGE,   /* a NULL argument, bad limits, feed after finish */
};

/* One part, as on_part_begin sees it. The strings are NUL-terminated and
 * stay valid until the part's on_part_end returns (or the parser fails);
 * copy what must live longer. */
struct multipart_part {
	size_t index;     /* 0 for the first part */
	const char *name; /* the form field name: valid UTF-8, never NULL or empty */
	/* The client's file name: from filename*= (RFC 8187, UTF-8 or ISO-8859-1,
	 * percent-decoded) when present, else from filename=; always valid UTF-8
	 * without NUL. NULL when the part has no file name; "" when the client
	 * sent an empty one (a browser's empty file input). NOT sanitized: it may
	 * hold path parts and control characters, see filename_sanitize(). */
	const char *filename;
	/* The part's Content-Type as the client sent it (printable ASCII,
	 * trimmed), or NULL. Only a claim: trust the content, not this. */
	const char *content_type;
};

/* Each returns 0 to go on, nonzero to stop: the parser then fails with
 * MULTIPART_ERR_ABORTED and calls nothing more. Any member may be NULL.
 * on_part_data gets the data in pieces of any size (never 0 bytes); the
 * pointer is only valid during the call. on_part_end is called once the
 * boundary after the part has been seen; when the body fails mid-part it is
 * not called, so clean up (a temporary file) on any error. */
struct multipart_callbacks {
	int (*on_part_begin)(void *user, const struct multipart_part *part);
	int (*on_part_data)(void *user, const char *data, size_t len);
	int (*on_part_end)(void *user);
};

/* 0 in a member means its default. */
struct multipart_limits {
	size_t max_header_bytes; /* one part's header block, blank line included */
	size_t max_parts;
};

/* Extracts the boundary from a request's Content-Type header value:
 * "multipart/form-data; boundary=..." (type and parameter names in any case,
 * the value as a token or a quoted string, other parameters ignored). The
 * boundary must be 1..70 characters of RFC 2046's bchars, not ending in a
 * space. NULL or another media type -> MULTIPART_ERR_NOT_MULTIPART (415);
 * malformed parameters -> MULTIPART_ERR_BAD_CONTENT_TYPE; no boundary ->
 * MULTIPART_ERR_NO_BOUNDARY; a bad or repeated one -> MULTIPART_ERR_BAD_BOUNDARY
 * (all 400). On success out holds the boundary, NUL-terminated. */
enum multipart_error multipart_boundary(const char *content_type,
                                        char out[MULTIPART_BOUNDARY_MAX + 1]);

/* Makes a parser for one body in arena (about 3 * max_header_bytes plus a
 * few hundred bytes, allocated here and never again). boundary is as
 * multipart_boundary() returns it (checked again here: a bad one ->
 * MULTIPART_ERR_BAD_BOUNDARY); limits may be NULL for the defaults;
 * callbacks is copied. Limits over MULTIPART_MAX_HEADER_BYTES, a NULL
 * argument -> MULTIPART_ERR_USAGE. */
enum multipart_error multipart_parser_new(struct arena *arena, const char *boundary,
                                          const struct multipart_limits *limits,
                                          const struct multipart_callbacks *callbacks, void *user,
                                          struct multipart_parser **out);

/* Pushes the next len bytes of the body (any len, 0 included). After a
 * failure every later call returns the same error. */
enum multipart_error multipart_feed(struct multipart_parser *p, const char *data, size_t len);

/* Says the body has ended: MULTIPART_OK only if the final boundary
 * ("--boundary--") was seen, else MULTIPART_ERR_TRUNCATED (or the earlier
 * error). Feeding after this is MULTIPART_ERR_USAGE. */
enum multipart_error multipart_finish(struct multipart_parser *p);

/* A short client-safe sentence for the error; never NULL. */
const char *multipart_error_message(enum multipart_error err);

/* The project error (and so the HTTP status) an error maps to: 415 for
 * MULTIPART_ERR_NOT_MULTIPART, 500 for NOMEM and USAGE, 400 for the rest
 * (ABORTED included: a handler that aborts answers with its own reason). */
enum hms_err multipart_error_hms(enum multipart_error err);

#endif
