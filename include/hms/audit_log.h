/*
 * audit_log.h - GET /api/audit/: the audit trail, read by admins.
 */
#ifndef HMS_AUDIT_LOG_H
#define HMS_AUDIT_LOG_H

struct http_request;
struct http_response;

void audit_log_list(struct http_request *req, struct http_response *res);

#endif
