/*
 * test_multipart.c - the streaming multipart/form-data parser
 * (src/http/multipart.c).
 *
 * Callbacks are recorded part by part, so one body fed whole, a byte at a
 * time and split at every position must give the same record. Then the
 * boundary parameter, the part headers, the limits, the ends of the body and
 * the abort path, each with the error the handler will report.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/multipart.h"

#define ARENA_BLOCK  (128 * 1024)
#define MAX_RECORDED 8

struct recorded_part {
	char name[64];
	char filename[128];
	char content_type[64];
	bool has_filename, has_content_type, ended;
	size_t index;
	char *data;
	size_t data_len;
};

struct recorder {
	struct recorded_part parts[MAX_RECORDED];
	size_t count;
	size_t events;   /* callbacks so far */
	size_t abort_at; /* return nonzero from this callback (1-based); 0 never */
	bool called_after_abort;
};

static struct arena *arena;

static void setup(void)
{
	arena = arena_new(ARENA_BLOCK, 0);
	cr_assert_not_null(arena);
}

static void teardown(void)
{
	arena_free(arena);
	arena = NULL;
}

TestSuite(multipart, .init = setup, .fini = teardown);
TestSuite(multipart_boundary, .init = setup, .fini = teardown);

static int next_event(struct recorder *r)
{
	if (r->abort_at != 0 && r->events >= r->abort_at)
		r->called_after_abort = true;
	return ++r->events == r->abort_at;
}

static int on_begin(void *user, const struct multipart_part *part)
{
	struct recorder *r = user;
	struct recorded_part *rp;

	cr_assert_lt(r->count, MAX_RECORDED);
	rp = &r->parts[r->count++];
	cr_assert_not_null(part->name);
	cr_assert_lt(strlen(part->name), sizeof(rp->name));
	strcpy(rp->name, part->name);
	rp->index = part->index;
	if (part->filename != NULL) {
		cr_assert_lt(strlen(part->filename), sizeof(rp->filename));
		strcpy(rp->filename, part->filename);
		rp->has_filename = true;
	}
	if (part->content_type != NULL) {
		cr_assert_lt(strlen(part->content_type), sizeof(rp->content_type));
		strcpy(rp->content_type, part->content_type);
		rp->has_content_type = true;
	}
	return next_event(r);
}

static int on_data(void *user, const char *data, size_t len)
{
	struct recorder *r = user;
	struct recorded_part *rp;

	cr_assert_gt(r->count, 0);
	cr_assert_gt(len, 0, "a data callback with no data");
	rp = &r->parts[r->count - 1];
	cr_assert_not(rp->ended);
	rp->data = realloc(rp->data, rp->data_len + len);
	cr_assert_not_null(rp->data);
	memcpy(rp->data + rp->data_len, data, len);
	rp->data_len += len;
	return next_event(r);
}

static int on_end(void *user)
{
	struct recorder *r = user;

	cr_assert_gt(r->count, 0);
	r->parts[r->count - 1].ended = true;
	return next_event(r);
}

static const struct multipart_callbacks callbacks = {on_begin, on_data, on_end};

static void recorder_free(struct recorder *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->parts[i].data);
	memset(r, 0, sizeof(*r));
}

/* Parses body with boundary, fed in pieces that end at the given offsets
 * (then the rest), and finishes. Returns the first error. */
static enum multipart_error parse_cuts(const char *boundary, const struct multipart_limits *limits,
                                       const char *body, size_t len, const size_t *cuts,
                                       size_t ncuts, struct recorder *r)
{
	struct multipart_parser *p;
	enum multipart_error e = multipart_parser_new(arena, boundary, limits, &callbacks, r, &p);
	size_t at = 0;

	if (e != MULTIPART_OK)
		return e;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		e = multipart_feed(p, body + at, to - at);
		if (e != MULTIPART_OK)
			return e;
		at = to;
	}
	return multipart_finish(p);
}

static enum multipart_error parse(const char *boundary, const char *body, size_t len,
                                  struct recorder *r)
{
	return parse_cuts(boundary, NULL, body, len, NULL, 0, r);
}

/* Parses body in pieces of chunk bytes. */
static enum multipart_error parse_chunked(const char *boundary, const char *body, size_t len,
                                          size_t chunk, struct recorder *r)
{
	struct multipart_parser *p;
	enum multipart_error e = multipart_parser_new(arena, boundary, NULL, &callbacks, r, &p);

	for (size_t at = 0; e == MULTIPART_OK && at < len; at += chunk)
		e = multipart_feed(p, body + at, len - at < chunk ? len - at : chunk);
	return e == MULTIPART_OK ? multipart_finish(p) : e;
}

static void assert_same(const struct recorder *a, const struct recorder *b, const char *how)
{
	cr_assert_eq(a->count, b->count, "%s: part count", how);
	for (size_t i = 0; i < a->count; i++) {
		const struct recorded_part *x = &a->parts[i], *y = &b->parts[i];

		cr_assert_str_eq(x->name, y->name, "%s", how);
		cr_assert_str_eq(x->filename, y->filename, "%s", how);
		cr_assert_eq(x->has_filename, y->has_filename, "%s", how);
		cr_assert_str_eq(x->content_type, y->content_type, "%s", how);
		cr_assert_eq(x->ended, y->ended, "%s", how);
		cr_assert_eq(x->data_len, y->data_len, "%s: part %zu data length", how, i);
		cr_assert(x->data_len == 0 || memcmp(x->data, y->data, x->data_len) == 0,
		          "%s: part %zu data", how, i);
	}
}

#define B "----hmsXyZ"

/* A text field and a file whose content holds near misses of the
 * delimiter: "--" B without the CRLF, with only LF, with only CR, in another
 * case, cut short, a CR right before the real delimiter, and a NUL. */
static const char FILE_DATA[] = "%PDF-1.4\r\n"
                                " --" B "\r\n"
                                "x\n--" B "\r\n"
                                "x\r--" B "\r\n"
                                "\r\n--"
                                "----HMSxyz\r\n"
                                "\r\n--"
                                "----hmsXy\r\n"
                                "\r\n-\r\n--\r\r\n\r\n"
                                "\0binary\xff\xfe\r";
static const char BODY[] =
    "This is the preamble; --" B " here is not a boundary.\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"record\"\r\n"
    "\r\n"
    "42\r\n"
    "--" B "\r\n"
    "content-disposition: form-data; name=\"file\"; filename=\"scan.pdf\"\r\n"
    "CONTENT-TYPE:   application/pdf  \r\n"
    "\r\n"
    "%PDF-1.4\r\n"
    " --" B "\r\n"
    "x\n--" B "\r\n"
    "x\r--" B "\r\n"
    "\r\n--"
    "----HMSxyz\r\n"
    "\r\n--"
    "----hmsXy\r\n"
    "\r\n-\r\n--\r\r\n\r\n"
    "\0binary\xff\xfe\r"
    "\r\n--" B "\r\n"
    "Content-Disposition: form-data; name=\"description\"\r\n"
    "\r\n"
    "\r\n--" B "--\r\n"
    "This is the epilogue.\r\n";

static void assert_body_parts(const struct recorder *r)
{
	cr_assert_eq(r->count, 3);
	cr_assert_str_eq(r->parts[0].name, "record");
	cr_assert_not(r->parts[0].has_filename);
	cr_assert_not(r->parts[0].has_content_type);
	cr_assert_eq(r->parts[0].data_len, 2);
	cr_assert_eq(memcmp(r->parts[0].data, "42", 2), 0);

	cr_assert_str_eq(r->parts[1].name, "file");
	cr_assert_eq(r->parts[1].index, 1);
	cr_assert_str_eq(r->parts[1].filename, "scan.pdf");
	cr_assert_str_eq(r->parts[1].content_type, "application/pdf");
	cr_assert_eq(r->parts[1].data_len, sizeof(FILE_DATA) - 1);
	cr_assert_eq(memcmp(r->parts[1].data, FILE_DATA, sizeof(FILE_DATA) - 1), 0);

	cr_assert_str_eq(r->parts[2].name, "description");
	cr_assert_eq(r->parts[2].data_len, 0); /* an empty part */
	for (size_t i = 0; i < 3; i++)
		cr_assert(r->parts[i].ended);
}

Test(multipart, whole_body)
{
	struct recorder r = {0};

	cr_assert_eq(parse(B, BODY, sizeof(BODY) - 1, &r), MULTIPART_OK);
	assert_body_parts(&r);
	recorder_free(&r);
}

Test(multipart, one_byte_at_a_time)
{
	struct recorder r = {0};

	cr_assert_eq(parse_chunked(B, BODY, sizeof(BODY) - 1, 1, &r), MULTIPART_OK);
	assert_body_parts(&r);
	recorder_free(&r);
}

Test(multipart, every_chunk_size)
{
	struct recorder whole = {0};

	cr_assert_eq(parse(B, BODY, sizeof(BODY) - 1, &whole), MULTIPART_OK);
	for (size_t chunk = 1; chunk <= sizeof(BODY); chunk++) {
		struct recorder r = {0};
		char how[32];

		snprintf(how, sizeof(how), "chunks of %zu", chunk);
		cr_assert_eq(parse_chunked(B, BODY, sizeof(BODY) - 1, chunk, &r), MULTIPART_OK,
		             "%s", how);
		assert_same(&whole, &r, how);
		recorder_free(&r);
	}
	recorder_free(&whole);
}

Test(multipart, every_two_chunk_split)
{
	struct recorder whole = {0};

	cr_assert_eq(parse(B, BODY, sizeof(BODY) - 1, &whole), MULTIPART_OK);
	for (size_t cut = 0; cut <= sizeof(BODY) - 1; cut++) {
		struct recorder r = {0};
		char how[32];

		snprintf(how, sizeof(how), "split at %zu", cut);
		cr_assert_eq(parse_cuts(B, NULL, BODY, sizeof(BODY) - 1, &cut, 1, &r), MULTIPART_OK,
		             "%s", how);
		assert_same(&whole, &r, how);
		recorder_free(&r);
	}
	recorder_free(&whole);
}

Test(multipart, every_three_chunk_split_of_a_small_body)
{
	static const char body[] = "--ab\r\nContent-Disposition: form-data; name=f\r\n\r\n"
	                           "\r\r\n-\r\n--a\r\n--ab \r\nContent-Disposition: form-data; "
	                           "name=g\r\n\r\n\r\n\r\n--ab--";
	struct recorder whole = {0};

	cr_assert_eq(parse("ab", body, sizeof(body) - 1, &whole), MULTIPART_OK);
	cr_assert_eq(whole.count, 2);
	cr_assert_eq(whole.parts[0].data_len, 9);
	cr_assert_eq(memcmp(whole.parts[0].data, "\r\r\n-\r\n--a", 9), 0);
	cr_assert_eq(whole.parts[1].data_len, 2);
	for (size_t i = 0; i <= sizeof(body) - 1; i++)
		for (size_t j = i; j <= sizeof(body) - 1; j++) {
			size_t cuts[2] = {i, j};
			struct recorder r = {0};

			cr_assert_eq(parse_cuts("ab", NULL, body, sizeof(body) - 1, cuts, 2, &r),
			             MULTIPART_OK);
			assert_same(&whole, &r, "three chunks");
			recorder_free(&r);
		}
	recorder_free(&whole);
}

Test(multipart, body_starting_with_the_boundary)
{
	static const char body[] =
	    "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--";
	struct recorder r = {0};

	cr_assert_eq(parse("b", body, sizeof(body) - 1, &r), MULTIPART_OK);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.parts[0].data_len, 1);
	recorder_free(&r);
}

Test(multipart, boundary_without_crlf_is_data)
{
	static const char body[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n"
	                           "x--b--y\n--b--\r--b\r\n--b--";
	struct recorder r = {0};

	cr_assert_eq(parse("b", body, sizeof(body) - 1, &r), MULTIPART_OK);
	cr_assert_eq(r.count, 1);
	cr_assert_eq(r.parts[0].data_len, 17);
	cr_assert_eq(memcmp(r.parts[0].data, "x--b--y\n--b--\r--b", 17), 0);
	recorder_free(&r);
}

Test(multipart, quoted_boundary_with_spaces_and_specials)
{
	static const char body[] = "--a b:c/d?\r\nContent-Disposition: form-data; name=q\r\n\r\n"
	                           "v\r\n--a b:c/d?--\r\n";
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	struct recorder r = {0};

	cr_assert_eq(multipart_boundary("multipart/form-data; boundary=\"a b:c/d?\"", boundary),
	             MULTIPART_OK);
	cr_assert_str_eq(boundary, "a b:c/d?");
	cr_assert_eq(parse(boundary, body, sizeof(body) - 1, &r), MULTIPART_OK);
	cr_assert_eq(r.count, 1);
	cr_assert_str_eq(r.parts[0].name, "q");
	recorder_free(&r);
}

Test(multipart, padding_after_boundaries)
{
	static const char body[] =
	    "--b \t\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--  \r\nend";
	struct recorder r = {0};

	cr_assert_eq(parse("b", body, sizeof(body) - 1, &r), MULTIPART_OK);
	cr_assert_eq(r.count, 1);
	recorder_free(&r);
}

/* One part with the given headers and data "x". */
static enum multipart_error parse_part(const char *headers, struct recorder *r)
{
	char body[1024];
	int n = snprintf(body, sizeof(body), "--b\r\n%s\r\nx\r\n--b--\r\n", headers);

	cr_assert(n > 0 && (size_t)n < sizeof(body));
	return parse("b", body, (size_t)n, r);
}

static void assert_filename(const char *headers, const char *expected)
{
	struct recorder r = {0};

	cr_assert_eq(parse_part(headers, &r), MULTIPART_OK, "%s", headers);
	cr_assert_eq(r.count, 1);
	if (expected == NULL) {
		cr_assert_not(r.parts[0].has_filename, "%s", headers);
	} else {
		cr_assert(r.parts[0].has_filename, "%s", headers);
		cr_assert_str_eq(r.parts[0].filename, expected, "%s", headers);
	}
	recorder_free(&r);
}

static void assert_part_error(const char *headers, enum multipart_error expected)
{
	struct recorder r = {0};

	cr_assert_eq(parse_part(headers, &r), expected, "%s", headers);
	cr_assert_eq(r.count, 0, "no part begins: %s", headers);
	recorder_free(&r);
}

Test(multipart, filenames)
{
	assert_filename("Content-Disposition: form-data; name=f\r\n", NULL);
	assert_filename("Content-Disposition: form-data; name=f; filename=\"\"\r\n", "");
	assert_filename("Content-Disposition: form-data; name=f; filename=plain.txt\r\n",
	                "plain.txt");
	assert_filename("Content-Disposition: form-data; name=f; FileName=\"a; b=c.txt\"\r\n",
	                "a; b=c.txt");
	/* Backslashes escape only '"' and '\': a Windows path stays a path. */
	assert_filename("Content-Disposition: form-data; name=f; "
	                "filename=\"C:\\Users\\me\\a \\\"b\\\".pdf\"\r\n",
	                "C:\\Users\\me\\a \"b\".pdf");
	assert_filename(
	    "Content-Disposition: form-data; name=f; filename=\"\xc3\xa9t\xc3\xa9.txt\"\r\n",
	    "\xc3\xa9t\xc3\xa9.txt");
	assert_filename("Content-Disposition: form-data; name=f; filename=\"../../etc/passwd\"\r\n",
	                "../../etc/passwd"); /* not sanitized here: filename_sanitize() does */
}

Test(multipart, filename_star_takes_precedence_and_is_decoded)
{
	assert_filename("Content-Disposition: form-data; name=f; filename=\"EUR rates.txt\"; "
	                "filename*=UTF-8''%e2%82%AC%20rates.txt\r\n",
	                "\xe2\x82\xac rates.txt");
	assert_filename("Content-Disposition: form-data; name=f; "
	                "filename*=utf-8'en-GB'na%C3%AFve.pdf; filename=naive.pdf\r\n",
	                "na\xc3\xafve.pdf");
	assert_filename(
	    "Content-Disposition: form-data; name=f; filename*=ISO-8859-1''%A3%20and%20x\r\n",
	    "\xc2\xa3 and x");
	assert_filename("Content-Disposition: form-data; name=f; filename*=UTF-8''%2E%2E%2Fx\r\n",
	                "../x");
}

Test(multipart, bad_filename_star)
{
	static const char *const bad[] = {
	    "filename*=UTF-8''%FF.txt", /* not UTF-8 */
	    "filename*=UTF-8''%C0%AF",  /* overlong */
	    "filename*=UTF-8''a%00b",   /* NUL */
	    "filename*=UTF-8''a%2",     /* short escape */
	    "filename*=UTF-8''a%zz",    /* bad hex */
	    "filename*=UTF-8''a/b",     /* not an attr-char */
	    "filename*=KOI8-R''abc",    /* charset */
	    "filename*=abc",            /* no charset */
	    "filename*=UTF-8'abc",      /* no second quote */
	    "filename*=UTF-8'e_n'abc",  /* bad language */
	    "filename=\"\xff\"",        /* not UTF-8 */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char headers[256];

		snprintf(headers, sizeof(headers), "Content-Disposition: form-data; name=f; %s\r\n",
		         bad[i]);
		assert_part_error(headers, MULTIPART_ERR_BAD_FILENAME);
	}
}

Test(multipart, part_header_errors)
{
	assert_part_error("", MULTIPART_ERR_NO_DISPOSITION);
	assert_part_error("Content-Type: text/plain\r\n", MULTIPART_ERR_NO_DISPOSITION);
	assert_part_error("Content-Disposition: form-data\r\n", MULTIPART_ERR_NO_NAME);
	assert_part_error("Content-Disposition: form-data; filename=a.txt\r\n",
	                  MULTIPART_ERR_NO_NAME);
	assert_part_error("Content-Disposition: form-data; name=\"\"\r\n", MULTIPART_ERR_NO_NAME);
	assert_part_error("Content-Disposition: form-data; name=\"\xc3\"\r\n",
	                  MULTIPART_ERR_BAD_NAME);
	assert_part_error("Content-Disposition: attachment; name=a\r\n",
	                  MULTIPART_ERR_BAD_DISPOSITION);
	assert_part_error("Content-Disposition: form-data; name=a; name=b\r\n",
	                  MULTIPART_ERR_BAD_DISPOSITION);
	assert_part_error("Content-Disposition: form-data; name=a; filename=x; FILENAME=y\r\n",
	                  MULTIPART_ERR_BAD_DISPOSITION);
	assert_part_error("Content-Disposition: form-data; name=\"a\r\n",
	                  MULTIPART_ERR_BAD_DISPOSITION);
	assert_part_error("Content-Disposition: form-data name=a\r\n",
	                  MULTIPART_ERR_BAD_DISPOSITION);
	assert_part_error("Content-Disposition: form-data; name=a\r\n"
	                  "Content-Disposition: form-data; name=b\r\n",
	                  MULTIPART_ERR_REPEATED_HEADER);
	assert_part_error("Content-Disposition: form-data; name=a\r\n"
	                  "Content-Type: text/plain\r\ncontent-type: image/png\r\n",
	                  MULTIPART_ERR_REPEATED_HEADER);
	assert_part_error("Content-Disposition: form-data; name=a\r\nno colon here\r\n",
	                  MULTIPART_ERR_BAD_HEADER);
	assert_part_error("Content-Disposition: form-data; name=a\r\n: empty name\r\n",
	                  MULTIPART_ERR_BAD_HEADER);
	assert_part_error("Content-Disposition: form-data; name=a\r\n filename=x\r\n",
	                  MULTIPART_ERR_BAD_HEADER); /* folding */
	assert_part_error("Content-Disposition : form-data; name=a\r\n", MULTIPART_ERR_BAD_HEADER);
	assert_part_error("Content-Disposition: form-data; name=a\nX: y\r\n",
	                  MULTIPART_ERR_BAD_HEADER); /* bare LF */
	assert_part_error(
	    "Content-Disposition: form-data; name=a\r\nContent-Type: text/\xc3\xa9\r\n",
	    MULTIPART_ERR_BAD_HEADER);
	assert_part_error("Content-Disposition: form-data; name=a\r\n"
	                  "Content-Transfer-Encoding: base64\r\n",
	                  MULTIPART_ERR_BAD_ENCODING);
}

Test(multipart, nul_in_a_header_is_refused)
{
	static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n"
	                           "x\r\n--b--";
	struct recorder r = {0};

	cr_assert_eq(parse("b", body, sizeof(body) - 1, &r), MULTIPART_ERR_BAD_HEADER);
	recorder_free(&r);
}

Test(multipart, accepted_headers)
{
	struct recorder r = {0};

	cr_assert_eq(parse_part("X-Other: whatever\r\n"
	                        "Content-Transfer-Encoding: BINARY\r\n"
	                        "Content-Disposition:form-data;name=field;\r\n"
	                        "Content-Type:\r\n",
	                        &r),
	             MULTIPART_OK);
	cr_assert_str_eq(r.parts[0].name, "field");
	cr_assert(r.parts[0].has_content_type);
	cr_assert_str_eq(r.parts[0].content_type, "");
	recorder_free(&r);
}

Test(multipart, header_limit)
{
	struct multipart_limits limits = {.max_header_bytes = 64};
	/* 62 bytes of header line + the blank line = 64 exactly. */
	static const char fits[] =
	    "--b\r\nContent-Disposition: form-data; name=\"abcdefghijklmnopqrstu\"\r\n"
	    "\r\nx\r\n--b--";
	static const char over[] =
	    "--b\r\nContent-Disposition: form-data; name=\"abcdefghijklmnopqrstuv\"\r\n"
	    "\r\nx\r\n--b--";
	struct recorder r = {0};

	cr_assert_eq(parse_cuts("b", &limits, fits, sizeof(fits) - 1, NULL, 0, &r), MULTIPART_OK);
	recorder_free(&r);
	cr_assert_eq(parse_cuts("b", &limits, over, sizeof(over) - 1, NULL, 0, &r),
	             MULTIPART_ERR_HEADER_TOO_LARGE);
	cr_assert_eq(r.count, 0);
	recorder_free(&r);
}

Test(multipart, header_without_end_hits_the_default_limit)
{
	struct multipart_parser *p;
	struct recorder r = {0};
	char line[1000];
	enum multipart_error e;

	memset(line, 'a', sizeof(line) - 2);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	cr_assert_eq(multipart_parser_new(arena, "b", NULL, &callbacks, &r, &p), MULTIPART_OK);
	cr_assert_eq(multipart_feed(p, "--b\r\n", 5), MULTIPART_OK);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(multipart_feed(p, line, sizeof(line)), MULTIPART_OK);
	e = multipart_feed(p, line, sizeof(line));
	cr_assert_eq(e, MULTIPART_ERR_HEADER_TOO_LARGE);
	cr_assert_eq(multipart_finish(p), e, "errors are sticky");
}

Test(multipart, part_limit)
{
	struct multipart_limits limits = {.max_parts = 2};
	static const char two[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	                          "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--b--";
	static const char three[] =
	    "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	    "--b\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
	    "--b\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--b--";
	struct recorder r = {0};

	cr_assert_eq(parse_cuts("b", &limits, two, sizeof(two) - 1, NULL, 0, &r), MULTIPART_OK);
	recorder_free(&r);
	cr_assert_eq(parse_cuts("b", &limits, three, sizeof(three) - 1, NULL, 0, &r),
	             MULTIPART_ERR_TOO_MANY_PARTS);
	cr_assert_eq(r.count, 2);
	recorder_free(&r);
}

static void assert_body_error(const char *body, enum multipart_error expected)
{
	struct recorder r = {0};

	cr_assert_eq(parse("b", body, strlen(body), &r), expected, "%s", body);
	/* and the same fed a byte at a time */
	recorder_free(&r);
	cr_assert_eq(parse_chunked("b", body, strlen(body), 1, &r), expected, "%s", body);
	recorder_free(&r);
}

#define PART "Content-Disposition: form-data; name=a\r\n\r\nx\r\n"

Test(multipart, ends_of_the_body)
{
	assert_body_error("", MULTIPART_ERR_TRUNCATED);
	assert_body_error("only a preamble\r\n", MULTIPART_ERR_TRUNCATED);
	assert_body_error("--b\r\n" PART, MULTIPART_ERR_TRUNCATED);
	assert_body_error("--b\r\n" PART "--b", MULTIPART_ERR_TRUNCATED);
	assert_body_error("--b\r\n" PART "--b-", MULTIPART_ERR_TRUNCATED);
	assert_body_error("--b\r\nContent-Disposition: form-data; name=a\r\n",
	                  MULTIPART_ERR_TRUNCATED);
	assert_body_error("--b\r\n" PART "--b--", MULTIPART_OK);
	assert_body_error("--b\r\n" PART "--b--\r\n", MULTIPART_OK);
	assert_body_error("--b\r\n" PART "--b--\r\nany epilogue\r\n--c\r\n-b\r\n", MULTIPART_OK);
	assert_body_error("--b\r\n" PART "--b--\r\nepilogue\r\n--bb", MULTIPART_ERR_AFTER_END);
	assert_body_error("--b--\r\n", MULTIPART_ERR_NO_PARTS);
	assert_body_error("--b\r\n" PART "--b--\r\n--b\r\n" PART "--b--", MULTIPART_ERR_AFTER_END);
	assert_body_error("--b\r\n" PART "--b--\r\n--b--", MULTIPART_ERR_AFTER_END);
	assert_body_error("--b\r\n" PART "--b--trailing", MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b\r\n" PART "--b--\rx", MULTIPART_ERR_BAD_DELIMITER);
}

Test(multipart, malformed_boundary_lines)
{
	assert_body_error("--bx\r\n" PART "--b--", MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b\n" PART "--b--", MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b\rx" PART "--b--", MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b\r\n" PART "--b -- \r\n", MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b\r\n" PART "--b-x", MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--bc\r\n",
	                  MULTIPART_ERR_BAD_DELIMITER);
	assert_body_error("--b                                                                  "
	                  "      \r\n" PART "--b--",
	                  MULTIPART_ERR_BAD_DELIMITER); /* over 64 bytes of padding */
}

static void assert_abort(size_t at, size_t expected_events)
{
	struct recorder r = {.abort_at = at};
	struct multipart_parser *p;
	enum multipart_error e;

	cr_assert_eq(multipart_parser_new(arena, B, NULL, &callbacks, &r, &p), MULTIPART_OK);
	e = multipart_feed(p, BODY, sizeof(BODY) - 1);
	cr_assert_eq(e, MULTIPART_ERR_ABORTED, "abort at %zu", at);
	cr_assert_eq(r.events, expected_events);
	cr_assert_not(r.called_after_abort);
	cr_assert_eq(multipart_feed(p, "more", 4), MULTIPART_ERR_ABORTED);
	cr_assert_eq(multipart_finish(p), MULTIPART_ERR_ABORTED);
	cr_assert_not(r.called_after_abort);
	recorder_free(&r);
}

Test(multipart, callback_abort)
{
	struct recorder r = {0};

	cr_assert_eq(parse(B, BODY, sizeof(BODY) - 1, &r), MULTIPART_OK);
	cr_assert_eq(r.events, 8); /* begin data end, begin data end, begin end */
	recorder_free(&r);
	for (size_t at = 1; at <= 8; at++)
		assert_abort(at, at);
}

Test(multipart, abort_while_giving_back_a_carried_match)
{
	/* "\r\n--" ends the first feed: a possible delimiter, held back. The
	 * next byte shows it was data, sent from the carry, and the callback
	 * refuses it. */
	struct recorder r = {.abort_at = 2};
	struct multipart_parser *p;
	static const char head[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--";

	cr_assert_eq(multipart_parser_new(arena, "b", NULL, &callbacks, &r, &p), MULTIPART_OK);
	cr_assert_eq(multipart_feed(p, head, sizeof(head) - 1), MULTIPART_OK);
	cr_assert_eq(r.events, 1);
	cr_assert_eq(multipart_feed(p, "x", 1), MULTIPART_ERR_ABORTED);
	cr_assert_eq(r.parts[0].data_len, 4);
	cr_assert_eq(memcmp(r.parts[0].data, "\r\n--", 4), 0);
	recorder_free(&r);
}

Test(multipart, callbacks_may_be_null)
{
	static const struct multipart_callbacks none = {0};
	struct multipart_parser *p;

	cr_assert_eq(multipart_parser_new(arena, B, NULL, &none, NULL, &p), MULTIPART_OK);
	cr_assert_eq(multipart_feed(p, BODY, sizeof(BODY) - 1), MULTIPART_OK);
	cr_assert_eq(multipart_finish(p), MULTIPART_OK);
}

Test(multipart, usage_errors)
{
	struct multipart_limits big = {.max_header_bytes = MULTIPART_MAX_HEADER_BYTES + 1};
	struct multipart_parser *p = (struct multipart_parser *)&p;
	struct recorder r = {0};

	cr_assert_eq(multipart_parser_new(arena, "", NULL, &callbacks, NULL, &p),
	             MULTIPART_ERR_BAD_BOUNDARY);
	cr_assert_null(p);
	cr_assert_eq(multipart_parser_new(arena, "a\r\nb", NULL, &callbacks, NULL, &p),
	             MULTIPART_ERR_BAD_BOUNDARY);
	cr_assert_eq(multipart_parser_new(NULL, "b", NULL, &callbacks, NULL, &p),
	             MULTIPART_ERR_USAGE);
	cr_assert_eq(multipart_parser_new(arena, "b", &big, &callbacks, NULL, &p),
	             MULTIPART_ERR_USAGE);
	cr_assert_eq(multipart_feed(NULL, "x", 1), MULTIPART_ERR_USAGE);
	cr_assert_eq(multipart_finish(NULL), MULTIPART_ERR_USAGE);

	cr_assert_eq(multipart_parser_new(arena, "b", NULL, &callbacks, &r, &p), MULTIPART_OK);
	cr_assert_eq(multipart_feed(p, NULL, 0), MULTIPART_OK);
	cr_assert_eq(multipart_feed(p, NULL, 1), MULTIPART_ERR_USAGE);
	cr_assert_eq(multipart_feed(p, "--b\r\n" PART "--b--", sizeof("--b\r\n" PART "--b--") - 1),
	             MULTIPART_OK);
	cr_assert_eq(multipart_finish(p), MULTIPART_OK);
	cr_assert_eq(multipart_feed(p, "x", 1), MULTIPART_ERR_USAGE);
	cr_assert_eq(multipart_finish(p), MULTIPART_ERR_USAGE);
	cr_assert_eq(r.count, 1);
	recorder_free(&r);
}

Test(multipart, out_of_memory)
{
	struct arena *tiny = arena_new(1024, 4096);
	struct multipart_parser *p;

	cr_assert_not_null(tiny);
	cr_assert_eq(multipart_parser_new(tiny, "b", NULL, &callbacks, NULL, &p),
	             MULTIPART_ERR_NOMEM);
	arena_free(tiny);
}

Test(multipart, error_messages_and_statuses)
{
	for (int e = MULTIPART_OK; e <= MULTIPART_ERR_USAGE; e++) {
		const char *m = multipart_error_message((enum multipart_error)e);

		cr_assert_not_null(m);
		cr_assert_gt(strlen(m), 0);
	}
	cr_assert_eq(multipart_error_hms(MULTIPART_OK), HMS_OK);
	cr_assert_eq(multipart_error_hms(MULTIPART_ERR_NOT_MULTIPART), HMS_ERR_MEDIA_TYPE);
	cr_assert_eq(multipart_error_hms(MULTIPART_ERR_BAD_BOUNDARY), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(multipart_error_hms(MULTIPART_ERR_TRUNCATED), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(multipart_error_hms(MULTIPART_ERR_NOMEM), HMS_ERR_NOMEM);
	cr_assert_eq(multipart_error_hms((enum multipart_error)999), HMS_ERR_INTERNAL);
	cr_assert_not_null(multipart_error_message((enum multipart_error)999));
	cr_assert_str_neq(multipart_error_message(MULTIPART_ERR_NO_NAME),
	                  multipart_error_message(MULTIPART_ERR_NO_DISPOSITION));
}

/* --- the Content-Type boundary parameter --- */

static void assert_boundary(const char *content_type, enum multipart_error expected,
                            const char *boundary)
{
	char out[MULTIPART_BOUNDARY_MAX + 1];

	cr_assert_eq(multipart_boundary(content_type, out), expected, "%s",
	             content_type ? content_type : "(null)");
	if (expected == MULTIPART_OK)
		cr_assert_str_eq(out, boundary);
	else
		cr_assert_str_eq(out, "");
}

Test(multipart_boundary, good)
{
	assert_boundary("multipart/form-data; boundary=abc", MULTIPART_OK, "abc");
	assert_boundary("multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
	                MULTIPART_OK, "----WebKitFormBoundary7MA4YWxkTrZu0gW");
	assert_boundary("  MULTIPART/Form-Data ; BOUNDARY=\"x\" ", MULTIPART_OK, "x");
	assert_boundary("multipart/form-data; charset=utf-8; boundary=a'()+_,-./:=?", MULTIPART_OK,
	                "a'()+_,-./:=?");
	assert_boundary("multipart/form-data; boundary=\"a\\\"b\"", MULTIPART_ERR_BAD_BOUNDARY,
	                NULL);
	assert_boundary("multipart/form-data; boundary=\" a b\"", MULTIPART_OK, " a b");
	assert_boundary("multipart/form-data; boundary="
	                "1234567890123456789012345678901234567890123456789012345678901234567890",
	                MULTIPART_OK,
	                "1234567890123456789012345678901234567890123456789012345678901234567890");
}

Test(multipart_boundary, wrong_media_type_is_415)
{
	assert_boundary(NULL, MULTIPART_ERR_NOT_MULTIPART, NULL);
	assert_boundary("", MULTIPART_ERR_NOT_MULTIPART, NULL);
	assert_boundary("application/json", MULTIPART_ERR_NOT_MULTIPART, NULL);
	assert_boundary("multipart/mixed; boundary=abc", MULTIPART_ERR_NOT_MULTIPART, NULL);
	assert_boundary("multipart/form-datax; boundary=abc", MULTIPART_ERR_NOT_MULTIPART, NULL);
	assert_boundary("multipart/form-data/x; boundary=abc", MULTIPART_ERR_NOT_MULTIPART, NULL);
	assert_boundary("multipart/form-data", MULTIPART_ERR_NO_BOUNDARY, NULL);
}

Test(multipart_boundary, bad_boundary_is_400)
{
	assert_boundary("multipart/form-data;", MULTIPART_ERR_NO_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; charset=utf-8", MULTIPART_ERR_NO_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; boundary=", MULTIPART_ERR_BAD_CONTENT_TYPE, NULL);
	assert_boundary("multipart/form-data; boundary", MULTIPART_ERR_BAD_CONTENT_TYPE, NULL);
	assert_boundary("multipart/form-data boundary=abc", MULTIPART_ERR_BAD_CONTENT_TYPE, NULL);
	assert_boundary("multipart/form-data; boundary = abc", MULTIPART_ERR_BAD_CONTENT_TYPE,
	                NULL);
	assert_boundary("multipart/form-data; boundary=\"abc", MULTIPART_ERR_BAD_CONTENT_TYPE,
	                NULL);
	assert_boundary("multipart/form-data; boundary=\"abc\"x", MULTIPART_ERR_BAD_CONTENT_TYPE,
	                NULL);
	assert_boundary("multipart/form-data; boundary=\"\"", MULTIPART_ERR_BAD_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; boundary=\"abc \"", MULTIPART_ERR_BAD_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; boundary=ab!c", MULTIPART_ERR_BAD_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; boundary=\"a\tb\"", MULTIPART_ERR_BAD_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; boundary=\xc3\xa9", MULTIPART_ERR_BAD_BOUNDARY, NULL);
	assert_boundary("multipart/form-data; boundary=a; boundary=a", MULTIPART_ERR_BAD_BOUNDARY,
	                NULL);
	assert_boundary("multipart/form-data; boundary="
	                "12345678901234567890123456789012345678901234567890123456789012345678901",
	                MULTIPART_ERR_BAD_BOUNDARY, NULL);
}
