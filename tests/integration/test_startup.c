/*
 * test_startup.c - the hms binary refuses to start with a configuration it
 * cannot run safely, and says why without echoing secrets.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define GOOD_KEY  "k1:0123456789abcdef0123456789abcdef-good"
#define GOOD_SEAL "seal1:0123456789abcdef0123456789abcdef-seal"
#define GOOD_DL   "dl1:0123456789abcdef0123456789abcdef-download"

/* Runs `hms --check-config` with the given environment assignments (after
 * a valid audit sealing key, download key and public origin, which they
 * may override). */
static int check_config(const char *env, char **output)
{
	char cmd[2048];

	snprintf(
	    cmd, sizeof(cmd),
	    "env -i PATH=/usr/bin:/bin ASAN_OPTIONS=detect_leaks=1 HMS_AUDIT_SEAL_KEYS=" GOOD_SEAL
	    " HMS_DOWNLOAD_KEYS=" GOOD_DL " HMS_PUBLIC_ORIGIN=https://hms.example.org"
	    " %s '%s' --check-config 2>&1",
	    env, client_env("HMS_TEST_HMS_BIN"));
	return client_run(cmd, output);
}

Test(startup, valid_configuration_passes)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/tmp",
	                          &out),
	             0, "%s", out);
	free(out);
}

Test(startup, missing_database_url_is_refused)
{
	char *out;

	cr_assert_eq(check_config("HMS_JWT_KEYS=" GOOD_KEY " HMS_ATTACHMENT_DIR=/tmp", &out), 2);
	cr_assert_not_null(strstr(out, "database_url"), "%s", out);
	free(out);
}

Test(startup, missing_secret_is_refused)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_ATTACHMENT_DIR=/tmp", &out), 2);
	cr_assert_not_null(strstr(out, "no built-in key"), "%s", out);
	free(out);
}

Test(startup, weak_secret_is_refused_without_echoing_it)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=k1:tooshortsecret31 "
	                          "HMS_ATTACHMENT_DIR=/tmp",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "at least 32"), "%s", out);
	cr_assert_null(strstr(out, "tooshortsecret31"), "the secret leaked: %s", out);
	free(out);
}

Test(startup, missing_or_weak_audit_sealing_key_is_refused)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/tmp HMS_AUDIT_SEAL_KEYS=",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "no audit sealing key"), "%s", out);
	free(out);
	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/tmp HMS_AUDIT_SEAL_KEYS=s:tooshortsecret31",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "at least 32"), "%s", out);
	cr_assert_null(strstr(out, "tooshortsecret31"), "the secret leaked: %s", out);
	free(out);
}

Test(startup, unusable_attachment_dir_is_refused)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/nonexistent/hms",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "attachment_dir"), "%s", out);
	free(out);
	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/etc/hostname",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "not a directory"), "%s", out);
	free(out);
}

Test(startup, bad_number_is_refused_with_its_bounds)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/tmp HMS_WORKERS=lots",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "HMS_WORKERS"), "%s", out);
	cr_assert_not_null(strstr(out, "from 0 to 256"), "%s", out);
	free(out);
}

Test(startup, missing_config_file_is_refused)
{
	char *out;

	cr_assert_eq(check_config("HMS_CONFIG=/nonexistent/hms.conf", &out), 2);
	cr_assert_not_null(strstr(out, "/nonexistent/hms.conf"), "%s", out);
	free(out);
}

Test(startup, missing_download_key_or_public_origin_is_refused)
{
	char *out;

	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/tmp HMS_DOWNLOAD_KEYS=",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "download signing key"), "%s", out);
	free(out);
	cr_assert_eq(check_config("HMS_DATABASE_URL='dbname=x' HMS_JWT_KEYS=" GOOD_KEY
	                          " HMS_ATTACHMENT_DIR=/tmp HMS_PUBLIC_ORIGIN=",
	                          &out),
	             2);
	cr_assert_not_null(strstr(out, "public_origin"), "%s", out);
	free(out);
}
