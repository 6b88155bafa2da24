/*
 * audit_log.c - GET /api/audit/: the audit trail as a list like any other
 * (filters actor, action, entity_type, entity_id, since, until). Rows are
 * written by src/auth/audit.c; this file only reads them.
 */
#include "hms/audit_log.h"

#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/list.h"

static const struct column audit_columns[] = {
    {"id", "id", COL_INT},
    {"at", "at", COL_TIME},
    {"actor", "actor", COL_INT},
    {"actor_role", "actor_role", COL_TEXT},
    {"action", "action", COL_TEXT},
    {"entity_type", "entity_type", COL_TEXT},
    {"entity_id", "entity_id", COL_INT},
    {"request_id", "request_id", COL_TEXT},
    {"ip", "host(ip)", COL_TEXT},
    {"outcome", "outcome", COL_TEXT},
    {"row_count", "row_count", COL_INT},
    {"entity_ids", "array_to_json(entity_ids)", COL_JSON},
    {NULL},
};

static const struct list_filter audit_filters[] = {
    {{"actor", FIELD_ID}, "actor = $?::bigint"},
    {{"action", FIELD_STRING, LIST_TEXT_FILTER}, "action = $?"},
    {{"entity_type", FIELD_STRING, LIST_TEXT_FILTER}, "entity_type = $?"},
    {{"entity_id", FIELD_ID}, "entity_id = $?::bigint"},
    {{"since", FIELD_DATETIME, .accepts_date = true}, "at >= $?::timestamptz"},
    {{"until", FIELD_DATETIME, .accepts_date = true}, "at < $?::timestamptz"},
    {{NULL}},
};

static const struct list_ordering audit_orderings[] = {
    {"id", "id"},
    {"at", "id"}, /* the chain makes id order time order */
    {NULL, NULL},
};

static const struct list_spec audit_list = {
    .columns = audit_columns,
    .from = "audit_log",
    .filters = audit_filters,
    .orderings = audit_orderings,
    .default_order = "id DESC",
    .tiebreak = "id",
};

void audit_log_list(struct http_request *req, struct http_response *res)
{
	crud_respond_list(req, res, &audit_list, NULL, 0);
}
