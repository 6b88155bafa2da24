/*
 * test_filename.c - cleaning uploaded file names and the download header
 * (src/util/filename.c).
 *
 * Every result is also checked for what the header promises: valid UTF-8,
 * no separators or control bytes, no dot or space at either end, bounded,
 * and unchanged when sanitized again.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/filename.h"
#include "hms/json.h"

TestSuite(filename);

static void assert_safe(const char *s, size_t n)
{
	char again[FILENAME_SANITIZED_MAX + 1];

	cr_assert_geq(n, 1);
	cr_assert_leq(n, FILENAME_SANITIZED_MAX);
	cr_assert_eq(strlen(s), n);
	cr_assert(utf8_is_valid(s, n), "not UTF-8: %s", s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		cr_assert(c >= 0x20 && c != 0x7f && c != '/' && c != '\\', "byte %zu of %s", i, s);
	}
	cr_assert(s[0] != '.' && s[0] != ' ');
	cr_assert(s[n - 1] != '.' && s[n - 1] != ' ');
	cr_assert_eq(filename_sanitize(s, n, again), n, "idempotent: %s", s);
	cr_assert_str_eq(again, s);
}

static void assert_sanitized_n(const char *in, size_t len, const char *expected)
{
	char out[FILENAME_SANITIZED_MAX + 1];
	size_t n = filename_sanitize(in, len, out);

	cr_assert_str_eq(out, expected);
	assert_safe(out, n);
}

static void assert_sanitized(const char *in, const char *expected)
{
	assert_sanitized_n(in, strlen(in), expected);
}

Test(filename, ordinary_names_are_kept)
{
	assert_sanitized("scan.pdf", "scan.pdf");
	assert_sanitized("X-ray 2026-01-02 (left).dcm", "X-ray 2026-01-02 (left).dcm");
	assert_sanitized("R\xc3\xa9sum\xc3\xa9 \xe2\x80\x93 \xe6\x9d\xb1\xe4\xba\xac.pdf",
	                 "R\xc3\xa9sum\xc3\xa9 \xe2\x80\x93 \xe6\x9d\xb1\xe4\xba\xac.pdf");
	/* an emoji ZWJ sequence keeps its joiner */
	assert_sanitized("\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x94\xac.png",
	                 "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x94\xac.png");
	assert_sanitized("a..b", "a..b");
}

Test(filename, path_parts_are_dropped)
{
	assert_sanitized("../../etc/passwd", "passwd");
	assert_sanitized("/etc/passwd", "passwd");
	assert_sanitized("..\\..\\windows\\system32\\cmd.exe", "cmd.exe");
	assert_sanitized("C:\\Users\\me\\scan.pdf", "scan.pdf");
	assert_sanitized("a/b\\c/d.txt", "d.txt");
	assert_sanitized("dir/", FILENAME_FALLBACK);
	assert_sanitized("/", FILENAME_FALLBACK);
	assert_sanitized("..", FILENAME_FALLBACK);
	assert_sanitized("../..", FILENAME_FALLBACK);
	/* an overlong '/' is invalid UTF-8, never a separator */
	assert_sanitized("a\xc0\xaf"
	                 "b",
	                 "ab");
	assert_sanitized("a\xe0\x80\xaf"
	                 "b",
	                 "ab");
}

Test(filename, dots_and_spaces_at_the_ends)
{
	assert_sanitized(".htaccess", "htaccess");
	assert_sanitized("...", FILENAME_FALLBACK);
	assert_sanitized(".", FILENAME_FALLBACK);
	assert_sanitized(" . . ", FILENAME_FALLBACK);
	assert_sanitized("  report.pdf  ", "report.pdf");
	assert_sanitized("report.pdf.", "report.pdf");
	assert_sanitized("report.pdf. . .", "report.pdf");
	assert_sanitized("\xc2\xa0.hidden", "hidden"); /* a no-break space is a space */
	assert_sanitized("a\xe3\x80\x80"
	                 "b",
	                 "a b");
	assert_sanitized("", FILENAME_FALLBACK);
	assert_sanitized_n(NULL, 5, FILENAME_FALLBACK);
}

Test(filename, nul_and_control_characters)
{
	assert_sanitized_n("evil.pdf\0.exe", 13, "evil.pdf.exe");
	assert_sanitized_n("\0\0\0", 3, FILENAME_FALLBACK);
	assert_sanitized("a\tb\r\nc\x7f"
	                 "d\x1b[31me",
	                 "abcd[31me");
	assert_sanitized("a\xc2\x85"
	                 "b\xc2\x9b"
	                 "c",
	                 "abc"); /* C1: NEL, CSI */
	assert_sanitized("x\r\nX-Evil: 1", "xX-Evil: 1");
}

Test(filename, bidi_and_invisible_characters)
{
	/* "report<RLO>fdp.exe" would show as "reportexe.pdf" */
	assert_sanitized("report\xe2\x80\xae"
	                 "fdp.exe",
	                 "reportfdp.exe");
	assert_sanitized("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"
	                 "a",
	                 "a");
	assert_sanitized("\xe2\x81\xa6"
	                 "a\xe2\x81\xa7"
	                 "b\xe2\x81\xa8\xe2\x81\xa9",
	                 "ab");
	assert_sanitized("\xe2\x80\x8e"
	                 "a\xe2\x80\x8f"
	                 "b\xd8\x9c",
	                 "ab");
	assert_sanitized("in\xe2\x80\x8bvoice\xef\xbb\xbf.pdf", "invoice.pdf");
	assert_sanitized("a\xc2\xad"
	                 "b\xe2\x81\xa0"
	                 "c",
	                 "abc");                     /* SHY, WJ */
	assert_sanitized("\xe3\x85\xa4.txt", "txt"); /* hangul filler */
	assert_sanitized("a\xf3\xa0\x80\x81\xf3\xa0\x81\x81"
	                 "b",
	                 "ab"); /* tag chars */
	assert_sanitized("a\xe2\x80\xa8"
	                 "b\xe2\x80\xa9"
	                 "c",
	                 "abc"); /* LS, PS */
	assert_sanitized("a\xef\xbf\xbe"
	                 "b\xef\xb7\x90"
	                 "c",
	                 "abc"); /* nonchars */
}

Test(filename, invalid_utf8_is_dropped)
{
	assert_sanitized("a\xff"
	                 "b",
	                 "ab");
	assert_sanitized("a\x80"
	                 "b",
	                 "ab");
	assert_sanitized("a\xed\xa0\x80"
	                 "b",
	                 "ab"); /* surrogate */
	assert_sanitized("a\xf4\x90\x80\x80"
	                 "b",
	                 "ab");               /* past U+10FFFF */
	assert_sanitized("ab\xe2\x82", "ab"); /* cut short */
	assert_sanitized("\xe2\x82.pdf", "pdf");
	assert_sanitized("\xc3\xa9\xc3", "\xc3\xa9");
}

static void assert_long(const char *unit, size_t repeat, const char *ext, size_t expect_len)
{
	char in[8192], out[FILENAME_SANITIZED_MAX + 1];
	size_t len = 0, n;

	for (size_t i = 0; i < repeat; i++) {
		memcpy(in + len, unit, strlen(unit));
		len += strlen(unit);
	}
	memcpy(in + len, ext, strlen(ext));
	len += strlen(ext);
	cr_assert_lt(len, sizeof(in));
	n = filename_sanitize(in, len, out);
	assert_safe(out, n);
	cr_assert_eq(n, expect_len, "%zu x %s + %s: %zu bytes", repeat, unit, ext, n);
	cr_assert_eq(memcmp(out + n - strlen(ext), ext, strlen(ext)), 0, "keeps %s", ext);
	cr_assert_eq(memcmp(out, unit, strlen(unit)), 0);
}

Test(filename, long_names_are_cut_keeping_the_extension)
{
	assert_long("a", 255, "", 255);
	assert_long("a", 251, ".pdf", 255);
	assert_long("a", 300, ".pdf", 255);
	assert_long("a.tar", 100, ".gz", 254);             /* the stem ends in a dot, trimmed */
	assert_long("\xc3\xa9", 300, ".txt", 254);         /* 251 is odd: 125 x 2 + 4 */
	assert_long("\xe2\x82\xac", 300, "", 255);         /* 85 x 3 */
	assert_long("\xf0\x9f\x98\x80", 300, ".png", 252); /* 62 x 4 + 4 */
	assert_long("a", 5000, ".pdf", 255);               /* past the work buffer */
	assert_long("\xe2\x82\xac", 2000, ".pdf", 253);    /* 83 x 3 + 4 */
}

Test(filename, an_extension_over_32_bytes_is_not_kept)
{
	char in[400], out[FILENAME_SANITIZED_MAX + 1];
	size_t n;

	memset(in, 'a', 300);
	in[300] = '.';
	memset(in + 301, 'b', 40);
	n = filename_sanitize(in, 341, out);
	assert_safe(out, n);
	cr_assert_eq(n, 255);
	cr_assert_eq(out[254], 'a');
}

Test(filename, long_name_with_junk_before_the_extension)
{
	char in[3000], out[FILENAME_SANITIZED_MAX + 1];
	size_t n;

	memset(in, 'a', 2000);
	memcpy(in + 2000, "\xe2\x80\xae..pdf  ", 10);
	n = filename_sanitize(in, 2010, out);
	assert_safe(out, n);
	cr_assert_eq(n, 255);
	cr_assert_eq(memcmp(out + n - 4, ".pdf", 4), 0);
}

static struct arena *arena;

static void setup(void)
{
	arena = arena_new(4096, 0);
	cr_assert_not_null(arena);
}

static void teardown(void)
{
	arena_free(arena);
}

TestSuite(content_disposition, .init = setup, .fini = teardown);

static void assert_disposition(const char *name, const char *expected)
{
	const char *v = filename_content_disposition(arena, name, strlen(name));

	cr_assert_not_null(v);
	cr_assert_str_eq(v, expected);
	for (const char *c = v; *c != '\0'; c++)
		cr_assert((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f, "%s", v);
}

Test(content_disposition, ascii)
{
	assert_disposition("report.pdf",
	                   "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
	assert_disposition("a b(1).txt", "attachment; filename=\"a b(1).txt\"; "
	                                 "filename*=UTF-8''a%20b%281%29.txt");
}

Test(content_disposition, quotes_backslashes_and_percent)
{
	assert_disposition("say \"hi\" 100%.txt", "attachment; filename=\"say _hi_ 100_.txt\"; "
	                                          "filename*=UTF-8''say%20%22hi%22%20100%25.txt");
	/* a backslash is a separator, so it never gets this far */
	assert_disposition("a\\b\".txt",
	                   "attachment; filename=\"b_.txt\"; filename*=UTF-8''b%22.txt");
}

Test(content_disposition, non_ascii)
{
	assert_disposition("\xe2\x82\xac rates.pdf", "attachment; filename=\"_ rates.pdf\"; "
	                                             "filename*=UTF-8''%E2%82%AC%20rates.pdf");
	assert_disposition("\xe6\x9d\xb1\xe4\xba\xac.txt",
	                   "attachment; filename=\"__.txt\"; "
	                   "filename*=UTF-8''%E6%9D%B1%E4%BA%AC.txt");
}

Test(content_disposition, hostile_names_are_sanitized_first)
{
	assert_disposition("../../x\r\nSet-Cookie: a=b",
	                   "attachment; filename=\"xSet-Cookie: a=b\"; "
	                   "filename*=UTF-8''xSet-Cookie%3A%20a%3Db");
	assert_disposition("r\xe2\x80\xae"
	                   "fdp.exe",
	                   "attachment; filename=\"rfdp.exe\"; filename*=UTF-8''rfdp.exe");
	assert_disposition("..", "attachment; filename=\"file\"; filename*=UTF-8''file");
}

Test(content_disposition, out_of_memory)
{
	struct arena *tiny = arena_new(64, 64);
	char name[300];

	cr_assert_not_null(tiny);
	memset(name, 'a', sizeof(name));
	cr_assert_null(filename_content_disposition(tiny, name, sizeof(name)));
	arena_free(tiny);
}
