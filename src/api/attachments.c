/*
 * attachments.c - /api/attachments/: upload, metadata with a signed
 * download_url, and the signed download that nginx serves.
 *
 * The upload's order is what keeps "nothing half-done" true: the body is
 * parsed as a stream into a temporary file (never held in memory), the
 * whole form is checked, the type is judged from the bytes, the file is
 * fsynced and renamed into place (directory fsynced), and only then is the
 * row inserted and committed with its audit row. Every failure before the
 * commit removes the file; a worker killed mid-upload leaves a temporary
 * file that the master sweeps (file_store.h).
 */
#include "hms/attachments.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/columns.h"
#include "hms/config.h"
#include "hms/crud.h"
#include "hms/db.h"
#include "hms/download_url.h"
#include "hms/file_store.h"
#include "hms/file_type.h"
#include "hms/filename.h"
#include "hms/http.h"
#include "hms/json.h"
#include "hms/log.h"
#include "hms/multipart.h"
#include "hms/permissions.h"
#include "hms/sha256.h"
#include "hms/validate.h"

/* What the statements return: the id, and the metadata as JSON. */
static const struct column attachment_columns[] = {
    {"id", "id", COL_INT},
    {"metadata", ATTACHMENT_JSON_SQL, COL_JSON},
    {NULL},
};

/* The form's fields, checked by the one validator once the body is read. */
static const struct field record_field = {"record", FIELD_ID, .required = true};
static const struct field description_field = {"description", FIELD_STRING, .allow_blank = true,
                                               .max_len = 1000};

/* The multipart framing and the small fields around the file: what the
 * body may hold beyond max_upload_bytes (nginx allows the same). */
#define FORM_OVERHEAD_BYTES (64 * 1024)
#define READ_CHUNK_BYTES    (64 * 1024)
#define RECORD_TEXT_MAX     32
/* 1000 characters of up to 4 bytes each. */
#define DESCRIPTION_TEXT_MAX 4000

/* The row, inserted only when the record exists and its patient is not
 * deleted: $1 record, $2 filename, $3 content type, $4 size, $5 sha256,
 * $6 storage name, $7 description, $8 uploader. */
static const struct db_stmt insert_attachment = {
    "attachments_insert",
    "INSERT INTO attachments (record_id, filename, content_type, size, sha256, storage_name, "
    "description, uploaded_by) SELECT r.id, $2, $3, $4::bigint, $5, $6, $7, $8::bigint "
    "FROM medical_records r JOIN patients p ON p.id = r.patient_id "
    "WHERE r.id = $1::bigint AND NOT p.is_deleted RETURNING " DB_COLUMNS,
    8, attachment_columns};

/* The attachments the API serves: those of patients not deleted. */
#define ATTACHMENT_LIVE                                                                            \
	"EXISTS (SELECT 1 FROM medical_records r JOIN patients p ON p.id = r.patient_id "          \
	"WHERE r.id = attachments.record_id AND NOT p.is_deleted)"

/* One attachment and its "read" audit row in one statement: $1 id, $2
 * whether a deleted patient's files were asked for (admins), $3-$6 the
 * request (audit.h). */
static const struct db_stmt attachment_by_id = {
    "attachments_by_id",
    "WITH target AS (SELECT * FROM attachments WHERE id = $1::bigint AND (" ATTACHMENT_LIVE
    " OR $2::boolean)), audit AS (INSERT INTO audit_log (" AUDIT_REQUEST_COLUMNS
    ", action, entity_type, entity_id, outcome) SELECT $3::bigint, $4, $5, $6::inet, 'read', "
    "'attachment', id, 'success' FROM target) SELECT " DB_COLUMNS " FROM target",
    6, attachment_columns};

/* What a download needs to decide: $1 attachment, $2 the signed user. */
static const struct db_stmt download_target = {
    "attachments_download_target",
    "SELECT a.filename, a.content_type, a.storage_name, u.role, u.is_active, p.is_deleted "
    "FROM attachments a JOIN medical_records r ON r.id = a.record_id JOIN patients p ON p.id "
    "= r.patient_id LEFT JOIN users u ON u.id = $2::bigint WHERE a.id = $1::bigint",
    2};

/* A record that vanished between the check and the insert, or a storage
 * name drawn twice: neither is the client's doing, but the answers say
 * what happened. */
static const struct constraint_error attachment_constraints[] = {
    {"attachments_record_id_fkey", "record", "Invalid pk - object does not exist."},
    {"attachments_storage_name_key", NULL, "Please send the file again."},
    {NULL},
};

/* --- upload ------------------------------------------------------------------ */

enum part_kind { PART_OTHER, PART_RECORD, PART_DESCRIPTION, PART_FILE };

struct upload {
	struct http_request *req;
	long long limit; /* the file's bytes */
	enum part_kind part;

	struct stored_file file;
	bool file_created;
	bool have_file;
	struct sha256_stream sha;
	long long size;
	char filename[FILENAME_SANITIZED_MAX + 1]; /* sanitized */

	char record[RECORD_TEXT_MAX + 1];
	size_t record_len;
	bool have_record;
	char description[DESCRIPTION_TEXT_MAX + 1];
	size_t description_len;
	bool have_description;

	/* Why a callback stopped the parser: err, and for a 400 the field and
	 * message. */
	enum hms_err err;
	const char *field;
	const char *message;
};

static int upload_fail(struct upload *u, enum hms_err err, const char *field, const char *message)
{
	u->err = err;
	u->field = field;
	u->message = message;
	return 1;
}

static int on_part_begin(void *user, const struct multipart_part *part)
{
	struct upload *u = user;

	if (strcmp(part->name, "file") == 0) {
		enum hms_err err;

		if (u->have_file)
			return upload_fail(u, HMS_ERR_BAD_REQUEST, "file",
			                   "Send one file per upload.");
		if (part->filename == NULL)
			return upload_fail(u, HMS_ERR_BAD_REQUEST, "file",
			                   "The submitted data was not a file. Check the encoding "
			                   "type on the form.");
		if (part->filename[0] == '\0')
			return upload_fail(u, HMS_ERR_BAD_REQUEST, "file",
			                   "No file was submitted.");
		filename_sanitize(part->filename, strlen(part->filename), u->filename);
		err = file_store_create(&u->file, u->req->config->attachment_dir,
		                        u->req->config->instance_name);
		u->file_created = true;
		if (err != HMS_OK)
			return upload_fail(u, err, NULL, NULL);
		if (sha256_stream_begin(&u->sha) != 0)
			return upload_fail(u, HMS_ERR_INTERNAL, NULL, NULL);
		u->have_file = true;
		u->part = PART_FILE;
	} else if (strcmp(part->name, "record") == 0) {
		if (u->have_record)
			return upload_fail(u, HMS_ERR_BAD_REQUEST, "record",
			                   "Send the record once.");
		u->have_record = true;
		u->part = PART_RECORD;
	} else if (strcmp(part->name, "description") == 0) {
		if (u->have_description)
			return upload_fail(u, HMS_ERR_BAD_REQUEST, "description",
			                   "Send the description once.");
		u->have_description = true;
		u->part = PART_DESCRIPTION;
	} else {
		u->part = PART_OTHER; /* unknown fields are ignored, as in JSON */
	}
	return 0;
}

/* Appends to a small text field, refusing more than max bytes. */
static int append_text(struct upload *u, char *buf, size_t *len, size_t max, const char *field,
                       const char *too_long, const char *data, size_t n)
{
	if (n > max - *len)
		return upload_fail(u, HMS_ERR_BAD_REQUEST, field, too_long);
	if (memchr(data, '\0', n) != NULL)
		return upload_fail(u, HMS_ERR_BAD_REQUEST, field,
		                   "Null characters are not allowed.");
	memcpy(buf + *len, data, n);
	*len += n;
	buf[*len] = '\0';
	return 0;
}

static int on_part_data(void *user, const char *data, size_t len)
{
	struct upload *u = user;
	enum hms_err err;

	switch (u->part) {
	case PART_FILE:
		if ((long long)len > u->limit - u->size)
			return upload_fail(u, HMS_ERR_TOO_LARGE, NULL, NULL);
		u->size += (long long)len;
		if (sha256_stream_update(&u->sha, data, len) != 0)
			return upload_fail(u, HMS_ERR_INTERNAL, NULL, NULL);
		err = file_store_write(&u->file, data, len);
		return err == HMS_OK ? 0 : upload_fail(u, err, NULL, NULL);
	case PART_RECORD:
		return append_text(u, u->record, &u->record_len, RECORD_TEXT_MAX, "record",
		                   "A valid integer is required.", data, len);
	case PART_DESCRIPTION:
		return append_text(
		    u, u->description, &u->description_len, DESCRIPTION_TEXT_MAX, "description",
		    "Ensure this field has no more than 1000 characters.", data, len);
	case PART_OTHER:
		break;
	}
	return 0;
}

static int on_part_end(void *user)
{
	((struct upload *)user)->part = PART_OTHER;
	return 0;
}

static void upload_discard(struct upload *u)
{
	sha256_stream_free(&u->sha);
	if (u->file_created)
		file_store_discard(&u->file);
	u->file_created = false;
}

/* Answers an error of the form or the body, after removing the file. */
static void respond_upload_error(struct http_response *res, struct upload *u, enum hms_err err,
                                 const char *field, const char *message)
{
	upload_discard(u);
	if (err == HMS_ERR_BAD_REQUEST && field != NULL)
		http_respond_field_error(res, field, message);
	else if (err == HMS_ERR_UNAVAILABLE && message == NULL)
		http_respond_error(
		    res, err, "The file store is unavailable; nothing was saved. Try again later.");
	else if (err == HMS_ERR_TOO_LARGE)
		http_respond_error(res, err,
		                   arena_printf(res->arena,
		                                "The file is larger than the limit of %ld bytes.",
		                                (long)u->limit));
	else
		http_respond_error(res, err, message);
}

/* Reads the body through the parser. Returns HMS_OK, or an error with
 * *field and *message for the client. */
static enum hms_err read_form(struct http_request *req, struct upload *u, const char **field,
                              const char **message)
{
	static const struct multipart_callbacks callbacks = {on_part_begin, on_part_data,
	                                                     on_part_end};
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	struct multipart_parser *parser;
	char *chunk = arena_alloc(req->arena, READ_CHUNK_BYTES);
	long long remaining = req->content_length;
	enum multipart_error e;

	*field = NULL;
	*message = NULL;
	e = multipart_boundary(req->content_type, boundary);
	if (e == MULTIPART_ERR_NOT_MULTIPART) {
		*message = "Unsupported media type in request; send multipart/form-data.";
		return HMS_ERR_MEDIA_TYPE;
	}
	if (e == MULTIPART_OK)
		e = multipart_parser_new(req->arena, boundary, NULL, &callbacks, u, &parser);
	if (e != MULTIPART_OK) {
		*message = multipart_error_message(e);
		return multipart_error_hms(e);
	}
	if (chunk == NULL)
		return HMS_ERR_NOMEM;
	/* nginx buffers the body and always says how long it is. */
	if (remaining < 0) {
		*message = "A Content-Length is required.";
		return HMS_ERR_BAD_REQUEST;
	}
	if (remaining > u->limit + FORM_OVERHEAD_BYTES) {
		*message = arena_printf(
		    req->arena, "The file is larger than the limit of %ld bytes.", (long)u->limit);
		return HMS_ERR_TOO_LARGE;
	}
	while (remaining > 0) {
		size_t want = remaining < READ_CHUNK_BYTES ? (size_t)remaining : READ_CHUNK_BYTES;
		long n = req->body_read(req->body_source, chunk, want);

		if (n <= 0) {
			*message = "The request body ended before its Content-Length.";
			return HMS_ERR_BAD_REQUEST;
		}
		remaining -= n;
		e = multipart_feed(parser, chunk, (size_t)n);
		if (e != MULTIPART_OK)
			break;
	}
	if (e == MULTIPART_OK)
		e = multipart_finish(parser);
	if (e == MULTIPART_ERR_ABORTED) {
		*field = u->field;
		*message = u->message;
		return u->err;
	}
	if (e != MULTIPART_OK) {
		*message = multipart_error_message(e);
		return multipart_error_hms(e);
	}
	return HMS_OK;
}

/* The metadata with a download_url for the asking user, as JSON. */
static struct json_object *attachment_json(struct http_request *req, const PGresult *row)
{
	struct json_object *columns = columns_row_json(attachment_columns, row, 0), *metadata;
	struct json_object *obj = NULL;
	int64_t id = 0;
	int64_t expires = (int64_t)time(NULL) + req->config->download_url_seconds;
	const char *signature;

	if (columns != NULL && json_object_object_get_ex(columns, "metadata", &metadata))
		obj = json_object_get(metadata);
	json_object_put(columns);
	if (obj == NULL)
		return NULL;
	validate_parse_id(PQgetvalue(row, 0, 0), &id);
	signature = download_url_sign(req->arena, req->config, id, req->user.id, expires);
	json_object_object_add(
	    obj, "download_url",
	    signature == NULL
	        ? NULL
	        : json_object_new_string(arena_printf(
	              req->arena,
	              "%s/api/attachments/%lld/download/?user=%lld&expires=%lld&signature=%s",
	              http_public_origin(req), (long long)id, (long long)req->user.id,
	              (long long)expires, signature)));
	return obj;
}

void attachments_upload(struct http_request *req, struct http_response *res)
{
	struct upload u = {.req = req, .limit = req->config->max_upload_bytes};
	const char *field, *message, *record, *description = "", *mime = NULL;
	char sha[SHA256_HEX_LEN + 1], size_text[24], uploader[24];
	const char *params[8];
	PGresult *row = NULL;
	enum hms_err err;

	err = read_form(req, &u, &field, &message);
	if (err != HMS_OK) {
		respond_upload_error(res, &u, err, field, message);
		return;
	}
	/* The form as a whole, through the one validator. */
	record = validate_text(req->arena, &record_field, u.record, &message);
	if (!u.have_record || record == NULL) {
		respond_upload_error(res, &u, HMS_ERR_BAD_REQUEST, "record",
		                     u.have_record ? message : "This field is required.");
		return;
	}
	if (u.have_description && !utf8_is_valid(u.description, u.description_len)) {
		respond_upload_error(res, &u, HMS_ERR_BAD_REQUEST, "description",
		                     "Send the description as UTF-8 text.");
		return;
	}
	if (u.have_description) {
		description =
		    validate_text(req->arena, &description_field, u.description, &message);
		if (description == NULL) {
			respond_upload_error(res, &u, HMS_ERR_BAD_REQUEST, "description", message);
			return;
		}
	}
	if (!u.have_file) {
		respond_upload_error(res, &u, HMS_ERR_BAD_REQUEST, "file",
		                     "No file was submitted.");
		return;
	}
	if (u.size == 0) {
		respond_upload_error(res, &u, HMS_ERR_BAD_REQUEST, "file",
		                     "The submitted file is empty.");
		return;
	}
	/* The type from the bytes alone. */
	err = file_type_of(u.file.fd, &mime);
	if (err == HMS_OK && mime == NULL) {
		respond_upload_error(
		    res, &u, HMS_ERR_MEDIA_TYPE, NULL,
		    arena_printf(req->arena, "Unsupported file type: only %s files are accepted.",
		                 file_type_allowed_names()));
		return;
	}
	if (err == HMS_OK && sha256_stream_end(&u.sha, sha) != 0)
		err = HMS_ERR_INTERNAL;
	if (err == HMS_OK)
		err = file_store_commit(&u.file);
	if (err != HMS_OK) {
		respond_upload_error(res, &u, err, NULL, NULL);
		return;
	}

	snprintf(size_text, sizeof(size_text), "%lld", u.size);
	snprintf(uploader, sizeof(uploader), "%lld", (long long)req->user.id);
	params[0] = record;
	params[1] = u.filename;
	params[2] = mime;
	params[3] = size_text;
	params[4] = sha;
	params[5] = u.file.name;
	params[6] = description;
	params[7] = uploader;
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &insert_attachment, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1) {
		db_rollback(req->db);
		respond_upload_error(res, &u, HMS_ERR_BAD_REQUEST, "record",
		                     "Invalid pk - object does not exist.");
		return;
	}
	if (err != HMS_OK) {
		/* Rolled back and answered (a constraint as its field error). */
		crud_commit(req, res, err, row, attachment_constraints, NULL, NULL, 0);
		upload_discard(&u);
		return;
	}
	{
		int64_t id = 0;

		validate_parse_id(PQgetvalue(row, 0, 0), &id);
		err = audit_record(req, "create", "attachment", id, AUDIT_SUCCESS);
	}
	if (err == HMS_OK)
		err = db_commit(req->db);
	if (err == HMS_ERR_UNAVAILABLE) {
		/* The connection went during COMMIT: the row may have committed.
		 * Keep the file (a row must never lose it); the client retries,
		 * and an operator can match stored names against rows. */
		db_rollback(req->db);
		log_event(LOG_WARN, "attachment_commit_unknown", "s:storage_name", u.file.name,
		          LOG_END);
		sha256_stream_free(&u.sha);
		file_store_close(&u.file);
		http_respond_error(res, err, NULL);
		return;
	}
	if (err != HMS_OK) {
		db_rollback(req->db);
		upload_discard(&u);
		http_respond_error(res, err, NULL);
		return;
	}
	file_store_close(&u.file);
	http_respond_json(res, 201, attachment_json(req, row));
}

/* --- metadata and download -------------------------------------------------- */

/* Who may see the attachments of a soft-deleted patient, and how they
 * ask: ?include_deleted=true with the patients' admin permission, as for
 * the patient and its records. */
static const struct resource attachments_visibility = {
    .table = "attachments",
    .entity = "attachment",
    .live = ATTACHMENT_LIVE,
    .deleted_permission = "patients.admin",
};

void attachments_get(struct http_request *req, struct http_response *res)
{
	const char *params[6] = {http_request_id_text(req, 0)};
	PGresult *row = NULL;
	bool include_deleted;
	enum hms_err err = params[0] == NULL ? HMS_ERR_NOMEM : HMS_OK;

	if (!crud_include_deleted(req, res, &attachments_visibility, &include_deleted))
		return;
	params[1] = include_deleted ? "true" : "false";

	/* No metadata leaves without its audit row committed. */
	audit_request_values(req, &params[2]);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &attachment_by_id, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	http_respond_json(res, 200, attachment_json(req, row));
}

/* A refused download: 403, audited as every 403 is ("denied", the
 * attachment, and the signed user only once the signature proved it)
 * before the answer leaves. */
static void refuse_download(struct http_request *req, struct http_response *res, int64_t user,
                            const char *role)
{
	enum hms_err err =
	    audit_record_as(req, user, role, "denied", "attachment", req->ids[0], AUDIT_DENIED);

	if (err != HMS_OK)
		http_respond_error(res, err, NULL);
	else
		http_respond_detail(
		    res, 403, "This download link is invalid or has expired; ask for a new one.");
}

void attachments_download(struct http_request *req, struct http_response *res)
{
	const char *user_text = http_request_param(req, "user");
	const char *expires_text = http_request_param(req, "expires");
	const char *signature = http_request_param(req, "signature");
	const char *params[2];
	int64_t user = 0, expires = 0;
	enum role role;
	PGresult *row = NULL;
	enum hms_err err;
	char handoff_value[4200]; /* attachment_dir (PATH_MAX) and a name */
	const char *handoff;

	/* Each value is a positive integer or the link is refused; the
	 * signature then vouches for all three. */
	if (user_text == NULL || expires_text == NULL || signature == NULL ||
	    !validate_parse_id(user_text, &user) || !validate_parse_id(expires_text, &expires) ||
	    download_url_verify(req->config, req->ids[0], user, expires, signature,
	                        (int64_t)time(NULL)) != DOWNLOAD_OK) {
		refuse_download(req, res, 0, NULL);
		return;
	}
	/* The signature is good: is the user still active and still allowed? */
	params[0] = http_request_id_text(req, 0);
	params[1] = user_text;
	err = params[0] == NULL ? HMS_ERR_NOMEM
	                        : db_exec(req->db, req->arena, &download_target, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	role = PQgetisnull(row, 0, 3) ? ROLE_NONE : role_parse(PQgetvalue(row, 0, 3));
	if (role == ROLE_NONE || strcmp(PQgetvalue(row, 0, 4), "t") != 0 ||
	    !permission_allows(permission_find("records.read"), role) ||
	    (strcmp(PQgetvalue(row, 0, 5), "t") == 0 &&
	     !permission_allows(permission_find("patients.admin"), role))) {
		refuse_download(req, res, user, role == ROLE_NONE ? NULL : role_name(role));
		return;
	}
	err = audit_record_as(req, user, role_name(role), "download", "attachment", req->ids[0],
	                      AUDIT_SUCCESS);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	/* The web server streams the file, keeping these headers (and
	 * answering Range requests itself): the one place where nginx and
	 * Apache differ (web_server). */
	handoff = file_store_handoff(req->config->web_server_kind, req->config->attachment_dir,
	                             PQgetvalue(row, 0, 2), handoff_value, sizeof(handoff_value));
	if (handoff == NULL) {
		log_event(LOG_ERROR, "attachment_handoff_failed", "l:attachment",
		          (long long)req->ids[0], LOG_END);
		http_respond_error(res, HMS_ERR_INTERNAL, NULL);
		return;
	}
	res->status = 200;
	res->content_type = arena_strdup(req->arena, PQgetvalue(row, 0, 1));
	http_response_header(res, handoff, arena_strdup(req->arena, handoff_value));
	http_response_header(res, "Content-Disposition",
	                     filename_content_disposition(req->arena, PQgetvalue(row, 0, 0),
	                                                  (size_t)PQgetlength(row, 0, 0)));
}
