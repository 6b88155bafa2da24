/*
 * attachments.h - files attached to medical records.
 *
 * A worker decides who may have a file; nginx moves the bytes. An upload
 * (POST /api/attachments/, multipart/form-data with record, file and an
 * optional description) is parsed as a stream into a temporary file while
 * its SHA-256 is computed; libmagic judges its type from the bytes; the
 * file is made durable under a generated name before its row commits, and
 * removed on any failure. GET /api/attachments/{id}/ answers the metadata
 * with a download_url signed for the caller (download_url.h);
 * GET /api/attachments/{id}/download/ checks that signature and answers
 * X-Accel-Redirect, and nginx streams the file from its internal location.
 * Every upload, read and download is audited.
 */
#ifndef HMS_ATTACHMENTS_H
#define HMS_ATTACHMENTS_H

#include "hms/db.h"

struct http_request;
struct http_response;

/* An attachment's metadata as the API shows it (without download_url): a
 * JSON object made by PostgreSQL over a row of attachments, the one
 * definition of that shape, also embedded in a record's "attachments". */
#define ATTACHMENT_JSON_SQL                                                                        \
	"json_build_object('id', id, 'record', record_id, 'filename', filename, 'content_type', "  \
	"content_type, 'size', size, 'sha256', sha256, 'description', description, "               \
	"'uploaded_by', uploaded_by, 'created_at', " SQL_UTC("created_at") ")"

void attachments_upload(struct http_request *req, struct http_response *res);
void attachments_get(struct http_request *req, struct http_response *res);
void attachments_download(struct http_request *req, struct http_response *res);

#endif
