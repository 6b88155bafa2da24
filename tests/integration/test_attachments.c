/*
 * test_attachments.c - uploads, signed download URLs and nginx's streaming,
 * through the real stack: real files of each allowed type up and down byte
 * for byte, types judged from the bytes, names made safe, limits, signatures
 * that are tampered with, expired or another user's, roles and audit rows.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define BOUNDARY "hmsTestBoundary7MA4YWxkTrZu0gW"

/* Formatted text that lives until the test ends (freed by the suite's
 * fini), so that paths and bodies can be built inline. */
static char *scratch_texts[256];
static size_t scratch_count;

static const char *text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *text(const char *fmt, ...)
{
	va_list ap;
	char *out;

	cr_assert_lt(scratch_count, sizeof(scratch_texts) / sizeof(scratch_texts[0]));
	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&out, fmt, ap), 0);
	va_end(ap);
	scratch_texts[scratch_count++] = out;
	return out;
}

static void free_texts(void)
{
	while (scratch_count > 0)
		free(scratch_texts[--scratch_count]);
}

TestSuite(attachments, .fini = free_texts);

static long long create_record(const char *token, long long patient)
{
	struct client_response res;
	long long id;

	client_post_json(text("/api/patients/%lld/records/", patient), token,
	                 "{\"record_type\":\"lab_result\",\"title\":\"Imaging\"}", &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

struct blob {
	char *data;
	size_t len;
};

static struct blob fixture(const char *name)
{
	const char *path =
	    text("%s/tests/integration/fixtures/%s", client_env("HMS_TEST_ROOT"), name);
	FILE *f = fopen(path, "rb");
	struct blob b = {0};

	cr_assert_not_null(f, "fixture %s", path);
	fseek(f, 0, SEEK_END);
	b.len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b.data = malloc(b.len);
	cr_assert_eq(fread(b.data, 1, b.len, f), b.len);
	fclose(f);
	return b;
}

/* A multipart/form-data body: record (unless < 0), the file part (unless
 * disposition is NULL) with its raw Content-Disposition parameters and
 * claimed type, and a description (unless NULL). */
static struct blob form(long long record, const char *disposition, const char *claimed_type,
                        const char *data, size_t len, const char *description)
{
	size_t cap = len + 4096;
	struct blob b = {malloc(cap), 0};

#define PUT(...) (b.len += (size_t)snprintf(b.data + b.len, cap - b.len, __VA_ARGS__))
	if (record >= 0)
		PUT("--" BOUNDARY
		    "\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n%lld\r\n",
		    record);
	if (description != NULL)
		PUT("--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n"
		    "%s\r\n",
		    description);
	if (disposition != NULL) {
		PUT("--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; %s\r\n",
		    disposition);
		if (claimed_type != NULL)
			PUT("Content-Type: %s\r\n", claimed_type);
		PUT("\r\n");
		memcpy(b.data + b.len, data, len);
		b.len += len;
		PUT("\r\n");
	}
	PUT("--" BOUNDARY "--\r\n");
#undef PUT
	return b;
}

static void upload(const char *token, const struct blob *body, struct client_response *res)
{
	const char *headers[] = {text("Authorization: Bearer %s", token),
	                         "Content-Type: multipart/form-data; boundary=" BOUNDARY, NULL};

	cr_assert_eq(
	    client_request("POST", "/api/attachments/", headers, body->data, body->len, res), 0);
}

static void sha256_of(const char *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int md_len = 0;

	EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* The stack's attachment directory, from the generated hms.conf. */
static const char *attachment_dir(void)
{
	static char dir[512];

	if (dir[0] == '\0') {
		char *value = client_stack_setting("attachment_dir");

		snprintf(dir, sizeof(dir), "%s", value);
		free(value);
	}
	return dir;
}

/* Whether a file of that name is in the attachment directory; and whether
 * any upload left a temporary file. */
static int stored(const char *name)
{
	FILE *f = fopen(text("%s/%s", attachment_dir(), name), "rb");

	if (f != NULL)
		fclose(f);
	return f != NULL;
}

static int count_temp_files(void)
{
	DIR *d = opendir(attachment_dir());
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".upload-", 8) == 0;
	closedir(d);
	return n;
}

/* Temporary files: other tests upload at the same time, so wait (up to
 * ten seconds) for theirs to finish; one this test left stays and counts. */
static int temp_files(void)
{
	int n = count_temp_files();

	for (int i = 0; i < 500 && n > 0; i++) {
		usleep(20000);
		n = count_temp_files();
	}
	return n;
}

/* The attachments of one record (other tests add their own meanwhile). */
static long long attachment_rows(long long record)
{
	return client_sql_long(
	    text("SELECT count(*) FROM attachments WHERE record_id = %lld", record));
}

/* The download_url's path and query on the test stack. */
static char *download_path(const struct client_response *res)
{
	const char *url = client_json_str(res->json, "download_url");
	const char *path;

	cr_assert_not_null(url);
	path = client_path_of_url(url);
	cr_assert_not_null(path, "download_url %s is not on the public origin", url);
	return strdup(path);
}

/* Uploads data as a doctor and checks the answer; returns the response. */
static void upload_ok(struct client_session *doctor, long long record, const char *filename,
                      const char *claimed, const struct blob *file, const char *expected_type,
                      struct client_response *res)
{
	struct blob body = form(record, text("filename=\"%s\"", filename), claimed, file->data,
	                        file->len, "scan of the left wrist");
	char sha[65];

	upload(doctor->tokens.access, &body, res);
	free(body.data);
	client_assert_status(res, 201);
	sha256_of(file->data, file->len, sha);
	cr_assert_str_eq(client_json_str(res->json, "content_type"), expected_type);
	cr_assert_eq(client_json_int(res->json, "size"), (long long)file->len);
	cr_assert_str_eq(client_json_str(res->json, "sha256"), sha);
	cr_assert_eq(client_json_int(res->json, "record"), record);
	cr_assert_eq(client_json_int(res->json, "uploaded_by"), doctor->user.id);
	cr_assert_str_eq(client_json_str(res->json, "description"), "scan of the left wrist");
	cr_assert_not_null(client_json_str(res->json, "created_at"));
}

Test(attachments, each_allowed_type_up_and_down_byte_for_byte)
{
	static const struct {
		const char *fixture, *name, *type;
	} files[] = {
	    {"report.pdf", "report.pdf", "application/pdf"},
	    {"scan.png", "scan.png", "image/png"},
	    {"photo.jpg", "photo.jpg", "image/jpeg"},
	    {"image.dcm", "image.dcm", "application/dicom"},
	};
	struct client_session doctor;
	long long record;

	client_open_session("doctor", &doctor);
	record = create_record(doctor.tokens.access, client_new_patient());
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct blob file = fixture(files[i].fixture);
		struct client_response res, got;
		char *path;
		const char *disposition;

		/* The client's claimed type is ignored either way. */
		upload_ok(&doctor, record, files[i].name, "application/octet-stream", &file,
		          files[i].type, &res);
		path = download_path(&res);
		client_get(path, &got); /* no bearer token: the signature is the credential */
		client_assert_status(&got, 200);
		cr_assert_eq(got.body_len, file.len, "%s", files[i].fixture);
		cr_assert_eq(memcmp(got.body, file.data, file.len), 0, "%s", files[i].fixture);
		cr_assert_str_eq(client_header(&got, "Content-Type"), files[i].type);
		cr_assert_str_eq(client_header(&got, "X-Content-Type-Options"), "nosniff");
		disposition = client_header(&got, "Content-Disposition");
		cr_assert_not_null(disposition);
		cr_assert_not_null(strstr(disposition, "attachment;"), "%s", disposition);
		cr_assert_not_null(strstr(disposition, files[i].name), "%s", disposition);
		cr_assert_null(client_header(&got, "X-Accel-Redirect"));
		cr_assert_null(client_header(&got, "X-Sendfile")); /* behind Apache */
		client_response_free(&got);
		free(path);
		client_response_free(&res);
		free(file.data);
	}
	client_close_session(&doctor);
}

Test(attachments, plain_text_and_a_range_request)
{
	struct client_session nurse;
	struct blob file = {malloc(100000), 100000};
	struct client_response res, got;
	long long record;
	char *path;
	const char *headers[] = {"Range: bytes=1000-1099", NULL};

	for (size_t i = 0; i < file.len; i++)
		file.data[i] = (char)('a' + i % 26);
	client_open_session("nurse", &nurse);
	record = create_record(nurse.tokens.access, client_new_patient());
	upload_ok(&nurse, record, "notes.txt", "application/pdf", &file, "text/plain", &res);
	path = download_path(&res);
	cr_assert_eq(client_request("GET", path, headers, NULL, 0, &got), 0);
	client_assert_status(&got, 206);
	cr_assert_eq(got.body_len, 100);
	cr_assert_eq(memcmp(got.body, file.data + 1000, 100), 0);
	cr_assert_str_eq(client_header(&got, "Content-Range"), "bytes 1000-1099/100000");
	client_response_free(&got);
	free(path);
	client_response_free(&res);
	free(file.data);
	client_close_session(&nurse);
}

Test(attachments, type_is_judged_from_the_bytes)
{
	static const char elf[] = "\x7f"
	                          "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00"
	                          "\x3e\x00\x01\x00\x00\x00";
	static const char html[] = "<!DOCTYPE html><html><body><script>alert(1)</script></body>"
	                           "</html>\n";
	struct client_session doctor;
	struct client_response res;
	long long record, rows;
	struct blob body;
	char exe[4096];

	memset(exe, 0, sizeof(exe));
	memcpy(exe, elf, sizeof(elf) - 1);
	client_open_session("doctor", &doctor);
	record = create_record(doctor.tokens.access, client_new_patient());
	rows = attachment_rows(record);

	body = form(record, "filename=\"scan.pdf\"", "application/pdf", exe, sizeof(exe), NULL);
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_detail(&res, 415);
	client_response_free(&res);

	body = form(record, "filename=\"notes.txt\"", "text/plain", html, strlen(html), NULL);
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_detail(&res, 415);
	client_response_free(&res);

	cr_assert_eq(attachment_rows(record), rows, "a refused file left a row");
	cr_assert_eq(temp_files(), 0, "a refused file left a temporary file");
	client_close_session(&doctor);
}

Test(attachments, file_names_are_made_safe)
{
	static const struct {
		const char *disposition, *expected;
	} names[] = {
	    {"filename=\"../../etc/passwd\"", "passwd"},
	    {"filename=\"C:\\\\Windows\\\\report.txt\"", "report.txt"},
	    /* U+202E RIGHT-TO-LEFT OVERRIDE would show "exe.txt" as "txt.exe". */
	    {"filename*=UTF-8''invoice%E2%80%AEtxt.exe", "invoicetxt.exe"},
	    {"filename*=UTF-8''r%C3%B6ntgen.txt", "r\xc3\xb6ntgen.txt"},
	};
	struct client_session doctor;
	long long record;
	struct blob file = {"plain text\n", 11};

	client_open_session("doctor", &doctor);
	record = create_record(doctor.tokens.access, client_new_patient());
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct blob body =
		    form(record, names[i].disposition, NULL, file.data, file.len, NULL);
		struct client_response res, got;
		char *path;

		upload(doctor.tokens.access, &body, &res);
		free(body.data);
		client_assert_status(&res, 201);
		cr_assert_str_eq(client_json_str(res.json, "filename"), names[i].expected, "%s",
		                 names[i].disposition);
		/* Stored under a generated name, never the client's. */
		cr_assert(!stored(names[i].expected));
		path = download_path(&res);
		client_get(path, &got);
		client_assert_status(&got, 200);
		cr_assert_null(strchr(client_header(&got, "Content-Disposition"), '/'));
		client_response_free(&got);
		free(path);
		client_response_free(&res);
	}
	{
		/* A NUL in the name: refused or cut, never stored with it. */
		struct blob body =
		    form(record, "filename*=UTF-8''evil%00.txt", NULL, file.data, file.len, NULL);
		struct client_response res;

		upload(doctor.tokens.access, &body, &res);
		free(body.data);
		client_assert_status(&res, 400);
		client_response_free(&res);
	}
	client_close_session(&doctor);
}

Test(attachments, form_errors)
{
	struct client_session doctor;
	struct client_response res;
	long long record;
	struct blob body, file = {"hello\n", 6};
	const char *json_headers[3];

	client_open_session("doctor", &doctor);
	record = create_record(doctor.tokens.access, client_new_patient());

	body = form(-1, "filename=\"a.txt\"", NULL, file.data, file.len, NULL);
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_field_error(&res, "record");
	client_response_free(&res);

	body = form(999999999, "filename=\"a.txt\"", NULL, file.data, file.len, NULL);
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_field_error(&res, "record");
	client_response_free(&res);

	body = form(record, NULL, NULL, NULL, 0, NULL);
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_field_error(&res, "file");
	client_response_free(&res);

	body = form(record, "filename=\"empty.txt\"", NULL, "", 0, NULL);
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_field_error(&res, "file");
	client_response_free(&res);

	{
		char long_text[1100];

		memset(long_text, 'x', sizeof(long_text) - 1);
		long_text[sizeof(long_text) - 1] = '\0';
		body = form(record, "filename=\"a.txt\"", NULL, file.data, file.len, long_text);
		upload(doctor.tokens.access, &body, &res);
		free(body.data);
		client_assert_field_error(&res, "description");
		client_response_free(&res);
	}

	/* A body that ends before its final boundary. */
	body = form(record, "filename=\"a.txt\"", NULL, file.data, file.len, NULL);
	body.len -= strlen("--" BOUNDARY "--\r\n");
	upload(doctor.tokens.access, &body, &res);
	free(body.data);
	client_assert_status(&res, 400);
	client_response_free(&res);

	/* Not multipart at all. */
	json_headers[0] = text("Authorization: Bearer %s", doctor.tokens.access);
	json_headers[1] = "Content-Type: application/json";
	json_headers[2] = NULL;
	cr_assert_eq(client_request("POST", "/api/attachments/", json_headers, "{}", 2, &res), 0);
	client_assert_detail(&res, 415);
	client_response_free(&res);

	cr_assert_eq(temp_files(), 0);
	client_close_session(&doctor);
}

Test(attachments, over_the_size_limit_is_413_and_leaves_nothing)
{
	/* The stack's limit is the default 10 MiB: one byte over is refused
	 * by the worker as it streams; far over by nginx before it. */
	size_t sizes[] = {10 * 1024 * 1024 + 1, 11 * 1024 * 1024};
	struct client_session nurse;
	long long record, rows;

	client_open_session("nurse", &nurse);
	record = create_record(nurse.tokens.access, client_new_patient());
	rows = attachment_rows(record);
	for (size_t i = 0; i < 2; i++) {
		struct blob file = {malloc(sizes[i]), sizes[i]};
		struct blob body;
		struct client_response res;

		memset(file.data, 'a', file.len);
		body = form(record, "filename=\"big.txt\"", NULL, file.data, file.len, NULL);
		upload(nurse.tokens.access, &body, &res);
		client_assert_detail(&res, 413);
		client_response_free(&res);
		free(body.data);
		free(file.data);
	}
	cr_assert_eq(attachment_rows(record), rows);
	cr_assert_eq(temp_files(), 0);
	client_close_session(&nurse);
}

Test(attachments, a_client_that_leaves_mid_upload_leaves_nothing)
{
	struct client_session nurse;
	long long record, rows;
	struct blob file = {malloc(2000000), 2000000}, body;
	char path[] = "/tmp/hms-cut-upload-XXXXXX";
	int fd, status;

	client_open_session("nurse", &nurse);
	record = create_record(nurse.tokens.access, client_new_patient());
	rows = attachment_rows(record);
	memset(file.data, 'a', file.len);
	body = form(record, "filename=\"cut.txt\"", NULL, file.data, file.len, NULL);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, body.data, body.len), (ssize_t)body.len);
	close(fd);
	/* curl sends 2 MB at 200 kB/s and gives up after a second: the
	 * connection closes with most of the body unsent. */
	status = client_run(
	    text("curl -s -o /dev/null --limit-rate 200k --max-time 1 --cacert '%s' -X POST "
	         "-H 'Authorization: Bearer %s' -H 'Content-Type: multipart/form-data; "
	         "boundary=" BOUNDARY "' --data-binary @'%s' '%s/api/attachments/'",
	         client_env("HMS_TEST_CA"), nurse.tokens.access, path,
	         client_env("HMS_TEST_BASE_URL")),
	    NULL);
	unlink(path);
	cr_assert_eq(status, 28, "curl should have timed out mid-upload (exit %d)", status);
	sleep(1);
	cr_assert_eq(attachment_rows(record), rows);
	cr_assert_eq(temp_files(), 0);
	free(body.data);
	free(file.data);
	client_close_session(&nurse);
}

/* A download URL for (attachment, user, expires) signed with the stack's
 * own key, as the server would sign it. */
static char *signed_path(long long attachment, long long user, long long expires)
{
	char *keys = NULL, *colon, *kid;
	unsigned char mac[32];
	unsigned int mac_len = 0;
	char message[96], encoded[64];
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	cr_assert_eq(
	    client_run(text("head -n 1 '%s/secrets/download.keys'", client_env("HMS_TEST_STATE")),
	               &keys),
	    0);
	keys[strcspn(keys, "\n")] = '\0';
	colon = strchr(keys, ':');
	cr_assert_not_null(colon);
	*colon = '\0';
	kid = keys;
	snprintf(message, sizeof(message), "hms-download-v1\n%lld\n%lld\n%lld", attachment, user,
	         expires);
	HMAC(EVP_sha256(), colon + 1, (int)strlen(colon + 1), (unsigned char *)message,
	     strlen(message), mac, &mac_len);
	for (size_t i = 0; i < 32; i += 3) {
		unsigned v = (unsigned)mac[i] << 16 | (i + 1 < 32 ? (unsigned)mac[i + 1] << 8 : 0) |
		             (i + 2 < 32 ? mac[i + 2] : 0);
		size_t chars = i + 2 < 32 ? 4 : i + 1 < 32 ? 3 : 2;

		for (size_t c = 0; c < chars; c++)
			encoded[o++] = alphabet[(v >> (18 - 6 * c)) & 63];
	}
	encoded[o] = '\0';
	{
		char *path = strdup(
		    text("/api/attachments/%lld/download/?user=%lld&expires=%lld&signature=%s.%s",
		         attachment, user, expires, kid, encoded));

		free(keys);
		return path;
	}
}

Test(attachments, signatures_tampered_expired_or_another_users_are_403)
{
	struct client_session doctor, nurse;
	struct client_response res, got;
	struct blob file = fixture("scan.png");
	long long record, id;
	char *path, *bad, *storage;

	client_open_session("doctor", &doctor);
	client_open_session("nurse", &nurse);
	record = create_record(doctor.tokens.access, client_new_patient());
	upload_ok(&doctor, record, "scan.png", NULL, &file, "image/png", &res);
	id = client_json_int(res.json, "id");
	path = download_path(&res);

	/* The test's own signer agrees with the server's. */
	{
		char *mine = signed_path(id, doctor.user.id, (long long)time(NULL) + 60);

		client_get(mine, &got);
		client_assert_status(&got, 200);
		client_response_free(&got);
		free(mine);
	}
	/* One character of the signature changed. */
	bad = strdup(path);
	bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
	client_get(bad, &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	free(bad);
	/* Another user, the same signature. */
	{
		const char *prefix = text("%.*s", (int)(strstr(path, "user=") - path), path);

		client_get(text("%suser=%lld%s", prefix, nurse.user.id, strchr(path, '&')), &got);
		client_assert_detail(&got, 403);
		client_response_free(&got);
	}
	/* Another attachment id, the same query. */
	client_get(text("/api/attachments/%lld/download/%s", id + 100000, strchr(path, '?')), &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	/* Properly signed, but expired. */
	bad = signed_path(id, doctor.user.id, (long long)time(NULL) - 5);
	client_get(bad, &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	free(bad);
	/* Missing or malformed parts. */
	client_get(text("/api/attachments/%lld/download/", id), &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	client_get(text("/api/attachments/%lld/download/?user=x&expires=1&signature=a.b", id),
	           &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);

	/* nginx's internal location cannot be asked for directly. */
	storage =
	    client_sql_value(text("SELECT storage_name FROM attachments WHERE id = %lld", id));
	cr_assert_not_null(storage);
	cr_assert(stored(storage));
	client_get(text("/_protected/%s", storage), &got);
	client_assert_status(&got, 404);
	client_response_free(&got);
	free(storage);

	free(path);
	client_response_free(&res);
	free(file.data);
	client_close_session(&nurse);
	client_close_session(&doctor);
}

Test(attachments, a_user_deactivated_after_the_url_was_issued_is_refused)
{
	struct client_session nurse;
	struct client_response res, got;
	struct blob file = fixture("report.pdf");
	char *path;

	client_open_session("nurse", &nurse);
	upload_ok(&nurse, create_record(nurse.tokens.access, client_new_patient()), "r.pdf", NULL,
	          &file, "application/pdf", &res);
	path = download_path(&res);
	client_patch_json(text("/api/users/%lld/", nurse.user.id), client_admin_token(),
	                  "{\"is_active\":false}", &got);
	client_assert_status(&got, 200);
	client_response_free(&got);
	client_get(path, &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	free(path);
	client_response_free(&res);
	free(file.data);
	client_close_session(&nurse);
}

Test(attachments, roles)
{
	static const char *const cannot_upload[] = {"admin", "receptionist", "billing"};
	static const char *const cannot_read[] = {"receptionist", "billing"};
	struct client_session doctor;
	struct client_response res;
	struct blob file = {"role test\n", 10};
	struct blob body;
	long long record, id;

	client_open_session("doctor", &doctor);
	record = create_record(doctor.tokens.access, client_new_patient());
	body = form(record, "filename=\"r.txt\"", NULL, file.data, file.len, NULL);
	upload(doctor.tokens.access, &body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);

	for (size_t i = 0; i < 3; i++) {
		struct client_session s;

		client_open_session(cannot_upload[i], &s);
		upload(s.tokens.access, &body, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&s);
	}
	for (size_t i = 0; i < 2; i++) {
		struct client_session s;

		client_open_session(cannot_read[i], &s);
		client_get_auth(text("/api/attachments/%lld/", id), s.tokens.access, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&s);
	}
	/* Admin, doctors and nurses read, each with a URL signed for them. */
	client_get_auth(text("/api/attachments/%lld/", id), client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_not_null(strstr(client_json_str(res.json, "download_url"), "user="));
	client_response_free(&res);
	{
		struct client_session nurse;

		client_open_session("nurse", &nurse);
		client_get_auth(text("/api/attachments/%lld/", id), nurse.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_not_null(strstr(client_json_str(res.json, "download_url"),
		                          text("user=%lld&", nurse.user.id)));
		client_response_free(&res);
		client_close_session(&nurse);
	}
	/* Unknown id; no token at all. */
	client_get_auth("/api/attachments/999999999/", doctor.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get(text("/api/attachments/%lld/", id), &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	free(body.data);
	client_close_session(&doctor);
}

Test(attachments, links_use_the_public_origin_not_the_host_header)
{
	struct client_session doctor;
	struct client_response res;
	struct blob file = {"origin\n", 7};
	struct blob body;
	const char *headers[3];
	long long id;

	client_open_session("doctor", &doctor);
	body = form(create_record(doctor.tokens.access, client_new_patient()), "filename=\"o.txt\"",
	            NULL, file.data, file.len, NULL);
	upload(doctor.tokens.access, &body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body.data);
	headers[0] = text("Authorization: Bearer %s", doctor.tokens.access);
	headers[1] = "Host: evil.example";
	headers[2] = NULL;
	cr_assert_eq(
	    client_request("GET", text("/api/attachments/%lld/", id), headers, NULL, 0, &res), 0);
	client_assert_status(&res, 200);
	cr_assert_not_null(client_path_of_url(client_json_str(res.json, "download_url")), "%s",
	                   client_json_str(res.json, "download_url"));
	cr_assert_null(strstr(client_json_str(res.json, "download_url"), "evil"));
	client_response_free(&res);
	/* And a list's next link. */
	cr_assert_eq(client_request("GET", "/api/patients/?page_size=1", headers, NULL, 0, &res),
	             0);
	client_assert_status(&res, 200);
	cr_assert_not_null(client_path_of_url(client_json_str(res.json, "next")));
	client_response_free(&res);
	client_close_session(&doctor);
}

Test(attachments, audit_rows_without_phi)
{
	struct client_session doctor;
	struct client_response res, got;
	struct blob file = fixture("photo.jpg");
	char name[64];
	long long id;
	char *path;

	client_open_session("doctor", &doctor);
	client_unique_name("Xray", name, sizeof(name));
	upload_ok(&doctor, create_record(doctor.tokens.access, client_new_patient()),
	          text("%s.jpg", name), NULL, &file, "image/jpeg", &res);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	client_get_auth(text("/api/attachments/%lld/", id), doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	path = download_path(&res);
	client_get(path, &got);
	client_assert_status(&got, 200);
	client_response_free(&got);

	cr_assert_eq(client_sql_long(text(
	                 "SELECT count(*) FROM audit_log WHERE entity_type = 'attachment' AND "
	                 "entity_id = %lld AND actor = %lld AND outcome = 'success' AND action IN "
	                 "('create', 'read', 'download')",
	                 id, doctor.user.id)),
	             3);
	cr_assert_eq(client_sql_long(text(
	                 "SELECT count(*) FROM audit_log a WHERE a::text LIKE '%%%s%%'", name)),
	             0, "the file name reached the audit trail");
	/* Nor any log the stack writes (nginx's access log holds paths
	 * only: not the download URL's signature either). */
	cr_assert_eq(client_run(text("! grep -rqs --include='*.log' -e '%s' -e '%s' '%s'", name,
	                             strstr(path, "signature=") + 10, client_env("HMS_TEST_STATE")),
	                        NULL),
	             0, "the file name or a download signature is in a log");
	cr_assert_eq(client_run(text("grep -rqs --include='access.log' -F "
	                             "'\"path\":\"/api/attachments/%lld/download/\"' '%s'",
	                             id, client_env("HMS_TEST_STATE")),
	                        NULL),
	             0, "the download is not in nginx's access log as a JSON path");
	free(path);
	client_response_free(&res);
	free(file.data);
	client_close_session(&doctor);
}

Test(attachments, a_deleted_patients_files_are_hidden_and_refused)
{
	struct client_session nurse;
	struct client_response res, got;
	struct blob file = fixture("scan.png"), body;
	long long patient, record, id;
	char *path;

	client_open_session("nurse", &nurse);
	patient = client_new_patient();
	record = create_record(nurse.tokens.access, patient);
	upload_ok(&nurse, record, "scan.png", NULL, &file, "image/png", &res);
	id = client_json_int(res.json, "id");
	path = download_path(&res);
	client_response_free(&res);
	client_delete_auth(text("/api/patients/%lld/", patient), client_admin_token(), &res);
	client_assert_status(&res, 204);
	client_response_free(&res);

	/* The metadata is gone for the nurse; an admin sees it only asking. */
	client_get_auth(text("/api/attachments/%lld/", id), nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth(text("/api/attachments/%lld/?include_deleted=true", id),
	                nurse.tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_get_auth(text("/api/attachments/%lld/", id), client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth(text("/api/attachments/%lld/?include_deleted=true", id),
	                client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	/* A URL issued before the deletion no longer works. */
	client_get(path, &got);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	/* Nothing more can be attached to the patient's records. */
	body = form(record, "filename=\"late.png\"", NULL, file.data, file.len, NULL);
	upload(nurse.tokens.access, &body, &res);
	client_assert_field_error(&res, "record");
	client_response_free(&res);
	cr_assert_eq(temp_files(), 0);
	free(body.data);
	free(path);
	free(file.data);
	client_close_session(&nurse);
}

Test(attachments, downloads_by_role_and_refusals_audited)
{
	static const char *const refused[] = {"receptionist", "billing"};
	struct client_session doctor;
	struct client_response res, got;
	struct blob file = fixture("image.dcm");
	long long id;
	char *path, request_id[64];
	const char *headers[2];

	client_open_session("doctor", &doctor);
	upload_ok(&doctor, create_record(doctor.tokens.access, client_new_patient()), "ct.dcm",
	          NULL, &file, "application/dicom", &res);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	/* An admin's own signed URL works. */
	client_get_auth(text("/api/attachments/%lld/", id), client_admin_token(), &res);
	client_assert_status(&res, 200);
	path = download_path(&res);
	client_response_free(&res);
	client_get(path, &got);
	client_assert_status(&got, 200);
	cr_assert_eq(got.body_len, file.len);
	client_response_free(&got);
	free(path);
	/* A correctly signed URL for a user whose role reads no records. */
	for (size_t i = 0; i < 2; i++) {
		struct client_session s;

		client_open_session(refused[i], &s);
		path = signed_path(id, s.user.id, (long long)time(NULL) + 60);
		client_get(path, &got);
		client_assert_detail(&got, 403);
		client_response_free(&got);
		free(path);
		cr_assert_eq(client_sql_long(text("SELECT count(*) FROM audit_log WHERE action = "
		                                  "'denied' AND entity_type = 'attachment' AND "
		                                  "entity_id = %lld AND actor = %lld",
		                                  id, s.user.id)),
		             1);
		client_close_session(&s);
	}
	/* A forged link: refused and audited without an actor. */
	client_unique_name("dl", request_id, sizeof(request_id));
	headers[0] = text("X-Request-ID: %s", request_id);
	headers[1] = NULL;
	cr_assert_eq(
	    client_request("GET",
	                   text("/api/attachments/%lld/download/?user=%lld&expires=%lld&"
	                        "signature=dl1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	                        id, doctor.user.id, (long long)time(NULL) + 60),
	                   headers, NULL, 0, &got),
	    0);
	client_assert_detail(&got, 403);
	client_response_free(&got);
	cr_assert_eq(client_sql_long(text("SELECT count(*) FROM audit_log WHERE request_id = '%s' "
	                                  "AND action = 'denied' AND outcome = 'denied' AND "
	                                  "entity_id = %lld AND actor IS NULL",
	                                  request_id, id)),
	             1);
	free(file.data);
	client_close_session(&doctor);
}
