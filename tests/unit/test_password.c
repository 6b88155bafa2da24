/*
 * test_password.c - argon2id hashing and its configured cost
 * (src/auth/password.c).
 *
 * Most tests use a deliberately tiny cost (64 KiB, t = 1, p = 1) so the
 * suite stays fast under ASan; one test uses the OWASP default the server
 * ships with (19 MiB, t = 2, p = 1) to prove that cost works too. Foreign
 * encodings (argon2i, argon2d) are made with libargon2 directly, so the
 * refusal is about the variant and not a wrong password.
 */
#include <argon2.h>
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hms/base64url.h"
#include "hms/config.h"
#include "hms/password.h"

static const struct password_cost cheap = {64, 1, 1};
static const struct password_cost owasp = {19456, 2, 1};

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void hash_or_fail(const struct password_cost *cost, const char *password,
                         char out[PASSWORD_HASH_MAX])
{
	memset(out, 0, PASSWORD_HASH_MAX);
	cr_assert_eq(password_hash(cost, password, out), 0, "hashing \"%.40s\"", password);
}

/* A password of exactly len bytes. */
static char *long_password(size_t len)
{
	char *p = malloc(len + 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = alphabet[i % 64];
	p[len] = '\0';
	return p;
}

Test(password, hash_then_verify)
{
	char h[PASSWORD_HASH_MAX];

	hash_or_fail(&cheap, "correct horse battery staple", h);
	cr_assert(password_verify(h, "correct horse battery staple"));
}

Test(password, wrong_password_is_refused)
{
	char h[PASSWORD_HASH_MAX];

	hash_or_fail(&cheap, "correct horse battery staple", h);
	cr_assert_not(password_verify(h, "correct horse battery stapl"));
	cr_assert_not(password_verify(h, "correct horse battery staplE"));
	cr_assert_not(password_verify(h, "correct horse battery staple "));
	cr_assert_not(password_verify(h, ""));
}

Test(password, hash_is_phc_argon2id_with_the_given_cost)
{
	char h[PASSWORD_HASH_MAX];
	const char *prefix = "$argon2id$v=19$m=64,t=1,p=1$";
	const char *salt, *dollar;

	hash_or_fail(&cheap, "correct horse battery staple", h);
	cr_assert_eq(strncmp(h, prefix, strlen(prefix)), 0, "%s", h);

	/* Then "$salt$hash": 16 salt bytes and 32 hash bytes, unpadded base64. */
	salt = h + strlen(prefix);
	dollar = strchr(salt, '$');
	cr_assert_not_null(dollar, "%s", h);
	cr_assert_eq(dollar - salt, 22, "salt of 16 bytes: %s", h);
	cr_assert_eq(strlen(dollar + 1), 43, "hash of 32 bytes: %s", h);
	cr_assert_null(strchr(salt, '='), "no padding: %s", h);
}

Test(password, same_password_hashes_differently)
{
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];

	hash_or_fail(&cheap, "the same password", a);
	hash_or_fail(&cheap, "the same password", b);
	cr_assert_str_neq(a, b, "a fresh salt each time");
	cr_assert(password_verify(a, "the same password"));
	cr_assert(password_verify(b, "the same password"));
}

Test(password, utf8_password_round_trips)
{
	char h[PASSWORD_HASH_MAX];

	hash_or_fail(&cheap, "pässwörd-ключ-密码", h);
	cr_assert(password_verify(h, "pässwörd-ключ-密码"));
	cr_assert_not(password_verify(h, "passwörd-ключ-密码"));
}

Test(password, default_owasp_cost_works)
{
	char h[PASSWORD_HASH_MAX];
	const char *prefix = "$argon2id$v=19$m=19456,t=2,p=1$";

	hash_or_fail(&owasp, "a long enough admin password", h);
	cr_assert_eq(strncmp(h, prefix, strlen(prefix)), 0, "%s", h);
	cr_assert_lt(strlen(h), PASSWORD_HASH_MAX);
	cr_assert(password_verify(h, "a long enough admin password"));
	cr_assert_not(password_verify(h, "a long enough admin passwore"));
}

Test(password, hash_of_another_cost_still_verifies)
{
	/* The encoding carries its cost: raising it later keeps old hashes. */
	static const struct password_cost other = {128, 2, 2};
	char h[PASSWORD_HASH_MAX];

	hash_or_fail(&other, "a password from last year", h);
	cr_assert_eq(strncmp(h, "$argon2id$v=19$m=128,t=2,p=2$", 29), 0, "%s", h);
	cr_assert(password_verify(h, "a password from last year"));
}

Test(password, other_argon2_variants_are_refused)
{
	static const unsigned char salt[16] = "0123456789abcdef";
	const char *pw = "correct horse battery staple";
	char h[PASSWORD_HASH_MAX];

	/* The right password, but argon2i and argon2d encodings. */
	cr_assert_eq(
	    argon2i_hash_encoded(1, 64, 1, pw, strlen(pw), salt, sizeof(salt), 32, h, sizeof(h)),
	    ARGON2_OK);
	cr_assert_eq(strncmp(h, "$argon2i$", 9), 0, "%s", h);
	cr_assert_eq(argon2i_verify(h, pw, strlen(pw)), ARGON2_OK, "the hash itself is sound");
	cr_assert_not(password_verify(h, pw));

	cr_assert_eq(
	    argon2d_hash_encoded(1, 64, 1, pw, strlen(pw), salt, sizeof(salt), 32, h, sizeof(h)),
	    ARGON2_OK);
	cr_assert_eq(strncmp(h, "$argon2d$", 9), 0, "%s", h);
	cr_assert_not(password_verify(h, pw));

	/* argon2id made the same way is accepted: the check is the variant. */
	cr_assert_eq(
	    argon2id_hash_encoded(1, 64, 1, pw, strlen(pw), salt, sizeof(salt), 32, h, sizeof(h)),
	    ARGON2_OK);
	cr_assert(password_verify(h, pw));
}

Test(password, garbage_encodings_are_refused)
{
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "$argon2id$",
	    "$argon2id$v=19$m=64,t=1,p=1$",
	    "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
	    "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
	    "pbkdf2_sha256$600000$salt$hash",
	    "correct horse battery staple",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(password_verify(bad[i], "correct horse battery staple"), "\"%s\"",
		              bad[i]);
}

Test(password, damaged_hash_is_refused)
{
	char h[PASSWORD_HASH_MAX];
	char damaged[PASSWORD_HASH_MAX];
	size_t len;

	hash_or_fail(&cheap, "correct horse battery staple", h);
	len = strlen(h);

	strcpy(damaged, h);
	damaged[len - 1] = '\0';
	cr_assert_not(password_verify(damaged, "correct horse battery staple"), "truncated");

	strcpy(damaged, h);
	damaged[len - 2] = damaged[len - 2] == 'A' ? 'B' : 'A';
	cr_assert_not(password_verify(damaged, "correct horse battery staple"), "hash changed");

	strcpy(damaged, h);
	damaged[30] = damaged[30] == 'A' ? 'B' : 'A'; /* inside the salt */
	cr_assert_not(password_verify(damaged, "correct horse battery staple"), "salt changed");
}

Test(password, passwords_over_the_limit_are_refused)
{
	char h[PASSWORD_HASH_MAX];
	char *at_limit = long_password(PASSWORD_MAX_BYTES);
	char *over = long_password(PASSWORD_MAX_BYTES + 1);

	/* At the limit: fine both ways. */
	hash_or_fail(&cheap, at_limit, h);
	cr_assert(password_verify(h, at_limit));

	/* Over it: password_hash refuses... */
	cr_assert_eq(password_hash(&cheap, over, h), -1);

	/* ...and password_verify refuses even a hash of exactly that text. */
	cr_assert_eq(argon2id_hash_encoded(1, 64, 1, over, strlen(over),
	                                   (const unsigned char *)"0123456789abcdef", 16, 32, h,
	                                   sizeof(h)),
	             ARGON2_OK);
	cr_assert_eq(argon2id_verify(h, over, strlen(over)), ARGON2_OK);
	cr_assert_not(password_verify(h, over));
	free(at_limit);
	free(over);
}

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(password, verify_dummy_spends_the_time_of_a_verification)
{
	double start, dummy;

	/* The first call makes the dummy hash; the second only verifies. */
	password_verify_dummy(&owasp, "someone's guess");
	start = seconds_now();
	password_verify_dummy(&owasp, "another guess");
	dummy = seconds_now() - start;

	/* Filling 19 MiB twice cannot take under a millisecond; a dummy that
	 * skipped the work would. */
	cr_assert_gt(dummy, 0.001, "password_verify_dummy took %.6f s", dummy);

	/* Over-long input returns without crashing. */
	{
		char *over = long_password(PASSWORD_MAX_BYTES + 1);

		password_verify_dummy(&owasp, over);
		free(over);
	}
}

Test(password, generate_gives_20_base64url_characters)
{
	char a[32], b[32];
	unsigned char raw[15];

	memset(a, 'x', sizeof(a));
	cr_assert_eq(password_generate(a), 0);
	cr_assert_eq(password_generate(b), 0);
	cr_assert_eq(strlen(a), 20, "\"%s\"", a);
	cr_assert_eq(strlen(b), 20, "\"%s\"", b);
	cr_assert_eq(strspn(a, alphabet), 20, "\"%s\"", a);
	cr_assert_eq(strspn(b, alphabet), 20, "\"%s\"", b);
	cr_assert_str_neq(a, b);
	/* 15 random bytes: decodes back, and meets the minimum length. */
	cr_assert_eq(base64url_decode(a, 20, raw), 15);
	cr_assert_geq(strlen(a), PASSWORD_MIN_LENGTH);
}

Test(password, generated_passwords_hash_and_verify)
{
	char pw[32];
	char h[PASSWORD_HASH_MAX];

	cr_assert_eq(password_generate(pw), 0);
	hash_or_fail(&cheap, pw, h);
	cr_assert(password_verify(h, pw));
}

/* --- password_cost_from_config ------------------------------------------- */

Test(password, cost_from_config_takes_each_configured_value)
{
	struct hms_config cfg;
	struct password_cost cost;

	config_init(&cfg);
	cost = password_cost_from_config(&cfg);
	cr_assert_eq(cost.memory_kib, owasp.memory_kib, "the default is the OWASP cost");
	cr_assert_eq(cost.iterations, owasp.iterations);
	cr_assert_eq(cost.parallelism, owasp.parallelism);

	/* Distinct values, so a field read into the wrong member shows. */
	cfg.password_memory_kib = 65536;
	cfg.password_iterations = 3;
	cfg.password_parallelism = 4;
	cost = password_cost_from_config(&cfg);
	cr_assert_eq(cost.memory_kib, 65536);
	cr_assert_eq(cost.iterations, 3);
	cr_assert_eq(cost.parallelism, 4);
	config_free(&cfg);
}

Test(password, the_dummy_hash_is_made_at_init_with_the_configured_cost)
{
	/* Made when the worker starts, so the first unknown username costs
	 * one verification like any other, not a hash and a verification. */
	cr_assert_null(password_dummy());
	cr_assert_eq(password_init(&cheap), 0);
	cr_assert_not_null(password_dummy());
	cr_assert_not_null(strstr(password_dummy(), "$m=64,t=1,p=1$"), "%s", password_dummy());
	cr_assert(!password_needs_rehash(password_dummy(), &cheap));
	{
		char before[PASSWORD_HASH_MAX];

		strcpy(before, password_dummy());
		password_verify_dummy(&cheap, "a guess");
		cr_assert_str_eq(password_dummy(), before, "the dummy was made again");
	}
}

Test(password, needs_rehash_when_any_parameter_differs)
{
	char hash[PASSWORD_HASH_MAX];
	const struct password_cost more_memory = {128, 1, 1}, more_time = {64, 2, 1},
	                           more_lanes = {64, 1, 2};

	hash_or_fail(&cheap, "correct horse battery", hash);
	cr_assert(!password_needs_rehash(hash, &cheap), "%s", hash);
	cr_assert(password_needs_rehash(hash, &more_memory));
	cr_assert(password_needs_rehash(hash, &more_time));
	cr_assert(password_needs_rehash(hash, &more_lanes));
	/* What we would not write today is rehashed too. */
	cr_assert(password_needs_rehash("$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", &cheap));
	cr_assert(password_needs_rehash("$argon2id$garbage", &cheap));
	cr_assert(password_needs_rehash("", &cheap));
}
