/* test_download_url.c - signing and checking attachment download URLs. */
#include <criterion/criterion.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/config.h"
#include "hms/download_url.h"

static struct hms_config cfg;
static struct arena *arena;
static char err[CONFIG_ERROR_MAX];

static void setup(void)
{
	config_init(&cfg);
	cr_assert_eq(config_set(&cfg, "download_keys",
	                        "new:0123456789abcdefGHIJKLMNOPQRSTUV,"
	                        "old:zyxwvutsrqponmlkZYXWVUTSRQPONMLK",
	                        err, sizeof(err)),
	             0);
	cr_assert_eq(config_set(&cfg, "audit_seal_keys", "s:zyxwvutsrqponmlkZYXWVUTSRQPONMLK", err,
	                        sizeof(err)),
	             0);
	cr_assert_eq(
	    config_set(&cfg, "jwt_keys", "j:zyxwvutsrqponmlkZYXWVUTSRQPONMLK", err, sizeof(err)),
	    0);
	cr_assert_eq(config_set(&cfg, "database_url", "host=x", err, sizeof(err)), 0);
	cr_assert_eq(config_set(&cfg, "public_origin", "https://h.example", err, sizeof(err)), 0);
	cr_assert_eq(config_set(&cfg, "attachment_dir", "/tmp", err, sizeof(err)), 0);
	cr_assert_eq(config_validate(&cfg, CONFIG_FOR_SERVER, err, sizeof(err)), 0, "%s", err);
	arena = arena_new(4096, 1 << 20);
}

static void teardown(void)
{
	arena_free(arena);
	config_free(&cfg);
}

TestSuite(download_url, .init = setup, .fini = teardown);

Test(download_url, signed_with_the_first_key_and_verifies)
{
	const char *sig = download_url_sign(arena, &cfg, 7, 3, 2000000000);

	cr_assert_not_null(sig);
	cr_assert_eq(strncmp(sig, "new.", 4), 0, "%s", sig);
	cr_assert_eq(strlen(sig), 4 + 43);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, sig, 1999999999), DOWNLOAD_OK);
	/* The expiry itself is still valid; one second after it is not. */
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, sig, 2000000000), DOWNLOAD_OK);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, sig, 2000000001),
	             DOWNLOAD_EXPIRED);
}

Test(download_url, every_signed_value_matters)
{
	const char *sig = download_url_sign(arena, &cfg, 7, 3, 2000000000);

	cr_assert_eq(download_url_verify(&cfg, 8, 3, 2000000000, sig, 0), DOWNLOAD_BAD_SIGNATURE);
	cr_assert_eq(download_url_verify(&cfg, 7, 4, 2000000000, sig, 0), DOWNLOAD_BAD_SIGNATURE);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000001, sig, 0), DOWNLOAD_BAD_SIGNATURE);
}

Test(download_url, tampered_or_malformed_signatures)
{
	char *sig = arena_strdup(arena, download_url_sign(arena, &cfg, 7, 3, 2000000000));
	char flipped[64];

	strcpy(flipped, sig);
	flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, flipped, 0),
	             DOWNLOAD_BAD_SIGNATURE);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, "", 0), DOWNLOAD_MALFORMED);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, "new.", 0), DOWNLOAD_MALFORMED);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, sig + 4, 0), DOWNLOAD_MALFORMED);
	/* The same MAC under a kid we do not hold. */
	memcpy(flipped, "xyz", 3);
	strcpy(flipped + 3, sig + 3);
	cr_assert_eq(download_url_verify(&cfg, 7, 3, 2000000000, flipped, 0), DOWNLOAD_UNKNOWN_KEY);
	/* Not canonical base64url (the last character's spare bits set). */
	strcpy(flipped, sig);
	flipped[strlen(flipped) - 1] = '_';
	cr_assert_neq(download_url_verify(&cfg, 7, 3, 2000000000, flipped, 0), DOWNLOAD_OK);
}

Test(download_url, a_retired_key_still_verifies)
{
	struct hms_config old;

	/* A URL signed before a rotation, with "old" first, still verifies
	 * while "old" is kept in the list. */
	config_init(&old);
	cr_assert_eq(config_set(&old, "download_keys", "old:zyxwvutsrqponmlkZYXWVUTSRQPONMLK", err,
	                        sizeof(err)),
	             0);
	cr_assert_eq(config_set(&old, "audit_seal_keys", "s:zyxwvutsrqponmlkZYXWVUTSRQPONMLK", err,
	                        sizeof(err)),
	             0);
	cr_assert_eq(
	    config_set(&old, "jwt_keys", "j:zyxwvutsrqponmlkZYXWVUTSRQPONMLK", err, sizeof(err)),
	    0);
	cr_assert_eq(config_set(&old, "database_url", "host=x", err, sizeof(err)), 0);
	cr_assert_eq(config_set(&old, "public_origin", "https://h.example", err, sizeof(err)), 0);
	cr_assert_eq(config_set(&old, "attachment_dir", "/tmp", err, sizeof(err)), 0);
	cr_assert_eq(config_validate(&old, CONFIG_FOR_SERVER, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(download_url_verify(&cfg, 1, 2, 3, download_url_sign(arena, &old, 1, 2, 3), 0),
	             DOWNLOAD_OK);
	config_free(&old);
}
