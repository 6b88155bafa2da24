/*
 * invoices.c - billing: /api/invoices/, /api/invoices/{id}/,
 * /api/invoices/{id}/issue/, /api/invoices/{id}/void/ and
 * /api/invoices/{id}/payments/.
 *
 * An invoice is a declaration served by crud.c. What is its own:
 *
 * - the money is PostgreSQL's: the body's amounts are read exactly (never
 *   through a double) and stored as given; the trigger of
 *   schema/012_billing.sql computes every line's amount, the subtotal, the
 *   tax and the total in numeric arithmetic, and refuses a subtotal past
 *   the bound. The row comes back with them, as two-place strings;
 * - the number (INV-2026-000123) is the database's, gap-free per year;
 * - only a draft is edited (the resource's `editable`: 409 otherwise, and
 *   the database refuses it too), and the status moves only by the
 *   transitions below, each one conditional UPDATE;
 * - a payment is one INSERT: its trigger locks the invoice, refuses a
 *   payment on a draft or void invoice (409) or beyond the amount due (400;
 *   nothing is due on a paid one), and adds it, marking the invoice paid
 *   once covered. Payments are
 *   never edited or deleted (no such routes: 405; no such grants).
 *
 * Invoices stay readable when their patient is soft-deleted: they are the
 * hospital's accounts, and they show the patient's id only.
 */
#include "hms/invoices.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/idempotency.h"
#include "hms/list.h"
#include "hms/validate.h"

static const struct column invoice_columns[] = {
    {"id", "id", COL_INT},
    {"number", "number", COL_TEXT},
    {"patient", "patient_id", COL_INT},
    {"appointment", "appointment_id", COL_INT},
    {"items", "items", COL_JSON},
    {"subtotal", "subtotal::text", COL_TEXT},
    {"tax_rate", "tax_rate::text", COL_TEXT},
    {"tax", "tax::text", COL_TEXT},
    {"total", "total::text", COL_TEXT},
    {"amount_paid", "amount_paid::text", COL_TEXT},
    {"amount_due", "(total - amount_paid)::text", COL_TEXT},
    {"status", "status", COL_TEXT},
    {"issued_at", "issued_at", COL_TIME},
    {"due_date", "due_date", COL_DATE},
    {"voided_at", "voided_at", COL_TIME},
    {"created_by", "created_by", COL_INT},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {"version", "version", COL_HIDDEN},
    {NULL},
};

static const char *const statuses[] = {"draft", "issued", "paid", "void", NULL};

/* The bounds of schema/012_billing.sql (docs/design_decisions.md,
 * "Billing"): no line, subtotal or total can overflow numeric(12,2). */
static const struct field item_fields[] = {
    {"description", FIELD_STRING, .required = true, .max_len = 500},
    {"quantity", FIELD_DECIMAL, .required = true, .positive = true, .min = 0, .max = 1000,
     .decimal_places = 2},
    {"unit_price", FIELD_DECIMAL, .required = true, .positive = true, .min = 0, .max = 1000000,
     .decimal_places = 2},
    {NULL},
};

/* Not before today in the hospital's time zone (the worker runs with TZ
 * set to it): the earliest day the invoice can be issued. The database
 * checks it again against the day of issue. */
static const char *check_due_date(const char *value, struct json_object *raw)
{
	time_t now = time(NULL);
	struct tm tm;
	char today[16];

	(void)raw;
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (strcmp(value, today) < 0)
		return "Due date cannot be before the issue date (today at the earliest).";
	return NULL;
}

enum { F_CREATED_BY, F_PATIENT };
static const struct field invoice_fields[] = {
    /* Read-only: set by before_write on create, never taken from the client. */
    [F_CREATED_BY] = {"created_by", FIELD_ID, .read_only = true},
    [F_PATIENT] = {"patient", FIELD_ID, .required = true, .column = "patient_id"},
    {"appointment", FIELD_ID, .nullable = true, .column = "appointment_id"},
    {"items", FIELD_LIST, .required = true, .min = 1, .max = 100, .fields = item_fields},
    {"tax_rate", FIELD_DECIMAL, .min = 0, .max = 100, .decimal_places = 2},
    {"due_date", FIELD_DATE, .nullable = true, .check = check_due_date},
    {NULL},
};

#define NOT_A_DRAFT "Only a draft invoice can be edited."
static const struct constraint_error invoice_constraints[] = {
    {"invoices_patient_fkey", "patient", "Invalid pk - object does not exist."},
    {"invoices_appointment_same_patient", "appointment",
     "Invalid pk - the appointment does not exist or belongs to another patient."},
    {"invoices_items_check", "items", "Invalid invoice items."},
    {"invoices_subtotal_check", "items", "The invoice's subtotal may not exceed 1000000000.00."},
    {"invoices_tax_rate_check", "tax_rate", "Ensure this value is between 0 and 100."},
    {"invoices_only_drafts_change", NULL, NOT_A_DRAFT},
    {"invoices_status_transition", NULL, "The invoice's status cannot change that way."},
    {"invoices_due_date_check", NULL,
     "The due date is before the day of issue: change it while the invoice is a draft."},
    {NULL},
};

static const struct list_filter invoice_filters[] = {
    {{"patient", FIELD_ID}, "patient_id = $?::bigint"},
    {{"appointment", FIELD_ID}, "appointment_id = $?::bigint"},
    {{"status", FIELD_CHOICE, .choices = statuses}, "status = $?"},
    {{"issued_after", FIELD_DATETIME, .accepts_date = true}, "issued_at >= $?::timestamptz"},
    {{"issued_before", FIELD_DATETIME, .accepts_date = true}, "issued_at < $?::timestamptz"},
    {{NULL}},
};

/* Keys that are never NULL (a cursor compares rows by them). */
static const struct list_ordering invoice_orderings[] = {
    {"created_at", "created_at"},
    {"number", "number"},
    {NULL, NULL},
};

static const struct list_spec invoice_list = {
    .columns = invoice_columns,
    .from = "invoices",
    .filters = invoice_filters,
    .orderings = invoice_orderings,
    .default_order = "created_at DESC, id DESC",
    .tiebreak = "id",
    .audit_entity = "invoice",
};

static bool invoice_before_write(struct http_request *req, struct http_response *res,
                                 struct crud_write *w);

const struct resource invoices_resource = {
    .table = "invoices",
    .entity = "invoice",
    .columns = invoice_columns,
    .fields = invoice_fields,
    .constraints = invoice_constraints,
    .list = &invoice_list,
    .editable = "status = 'draft'",
    .not_editable = NOT_A_DRAFT,
    .audit_reads = true,
    .before_write = invoice_before_write,
};

/* --- writes of a draft ------------------------------------------------------ */

static const struct db_stmt patient_deleted = {
    "invoices_patient_deleted", "SELECT is_deleted FROM patients WHERE id = $1::bigint", 1};

/* The creator from the token; a patient that is unknown or soft-deleted
 * is a field error (the foreign key alone would accept a deleted one). */
static bool invoice_before_write(struct http_request *req, struct http_response *res,
                                 struct crud_write *w)
{
	PGresult *row;
	enum hms_err err;

	if (w->v.present[F_PATIENT]) {
		const char *params[1] = {w->v.values[F_PATIENT]};

		err = db_exec(req->db, req->arena, &patient_deleted, params, &row);
		if (err != HMS_OK) {
			http_respond_error(res, err, NULL);
			return false;
		}
		if (PQntuples(row) != 1 || PQgetvalue(row, 0, 0)[0] == 't')
			validate_add_error(&w->errors, "patient",
			                   "Invalid pk - object does not exist.");
	}
	if (w->op == CRUD_CREATE) {
		w->v.values[F_CREATED_BY] =
		    arena_printf(req->arena, "%lld", (long long)req->user.id);
		w->v.present[F_CREATED_BY] = true;
		if (w->v.values[F_CREATED_BY] == NULL) {
			http_respond_error(res, HMS_ERR_NOMEM, NULL);
			return false;
		}
	}
	return true;
}

/* --- transitions ------------------------------------------------------------ */

/* $1 id, $2 the version If-Match requires (NULL: any). */
static const struct db_stmt issue_invoice = {
    "invoices_issue",
    "UPDATE invoices SET status = CASE WHEN total = 0 THEN 'paid' ELSE 'issued' END, "
    "issued_at = now(), issue_date = current_date, "
    "due_date = coalesce(due_date, current_date + 30), version = version + 1, "
    "updated_at = now() WHERE id = $1 AND status = 'draft' "
    "AND ($2::bigint IS NULL OR version = $2::bigint) RETURNING " DB_COLUMNS,
    2, invoice_columns};
static const struct db_stmt void_invoice = {
    "invoices_void",
    "UPDATE invoices SET status = 'void', voided_at = now(), version = version + 1, "
    "updated_at = now() WHERE id = $1 AND (status = 'draft' OR (status = 'issued' AND "
    "amount_paid = 0)) AND ($2::bigint IS NULL OR version = $2::bigint) RETURNING " DB_COLUMNS,
    2, invoice_columns};
static const struct db_stmt invoice_state = {
    "invoices_state", "SELECT status, version::text, amount_paid > 0 FROM invoices WHERE id = $1",
    1};

/* Why a transition matched no row: 404, 412 (If-Match names an older
 * version) or 409 with the reason. */
static void respond_refused(struct http_request *req, struct http_response *res,
                            const char *version, bool is_issue)
{
	PGresult *row;
	const char *status;
	enum hms_err err = crud_fetch(req, &invoice_state, &row);

	if (err == HMS_OK && version != NULL && strcmp(version, PQgetvalue(row, 0, 1)) != 0)
		err = HMS_ERR_PRECONDITION;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	status = PQgetvalue(row, 0, 0);
	if (is_issue)
		http_respond_error(res, HMS_ERR_CONFLICT,
		                   arena_printf(req->arena,
		                                "Only a draft can be issued; this invoice is %s.",
		                                status));
	else if (strcmp(status, "void") == 0)
		http_respond_error(res, HMS_ERR_CONFLICT, "The invoice is already void.");
	else if (strcmp(status, "paid") == 0)
		http_respond_error(res, HMS_ERR_CONFLICT, "A paid invoice cannot be voided.");
	else if (PQgetvalue(row, 0, 2)[0] == 't')
		http_respond_error(res, HMS_ERR_CONFLICT,
		                   "An invoice with payments cannot be voided.");
	else
		http_respond_error(res, HMS_ERR_PRECONDITION, NULL); /* it changed meanwhile */
}

static void transition(struct http_request *req, struct http_response *res,
                       const struct db_stmt *stmt, const char *action)
{
	const char *params[2] = {http_request_id_text(req, 0), NULL};
	PGresult *row = NULL;
	enum hms_err err = crud_expected_version(req, req->ids[0], &params[1]);

	if (err == HMS_OK)
		err = params[0] == NULL ? HMS_ERR_NOMEM : db_begin(req->db);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	err = db_exec(req->db, req->arena, stmt, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1) {
		db_rollback(req->db);
		respond_refused(req, res, params[1], stmt == &issue_invoice);
		return;
	}
	if (crud_commit(req, res, err, row, invoice_constraints, action, "invoice", req->ids[0]))
		crud_respond_row(req, res, 200, invoice_columns, row);
}

void invoices_issue(struct http_request *req, struct http_response *res)
{
	transition(req, res, &issue_invoice, "issue");
}

void invoices_void(struct http_request *req, struct http_response *res)
{
	transition(req, res, &void_invoice, "void");
}

/* --- payments --------------------------------------------------------------- */

/* The invoice's id first: a list's audit row names the invoice whose
 * payments were shown (once per payment). */
static const struct column payment_columns[] = {
    {"invoice", "invoice_id", COL_INT},     {"id", "id", COL_INT},
    {"amount", "amount::text", COL_TEXT},   {"method", "method", COL_TEXT},
    {"reference", "reference", COL_TEXT},   {"created_by", "created_by", COL_INT},
    {"created_at", "created_at", COL_TIME}, {NULL},
};

static const char *const methods[] = {"cash", "card", "insurance", "transfer", NULL};

enum { P_AMOUNT, P_METHOD, P_REFERENCE };
static const struct field payment_fields[] = {
    /* The largest total (docs/design_decisions.md, "Billing"). */
    [P_AMOUNT] = {"amount", FIELD_DECIMAL, .required = true, .positive = true, .min = 0,
                  .max = 2000000000, .decimal_places = 2},
    [P_METHOD] = {"method", FIELD_CHOICE, .required = true, .choices = methods},
    [P_REFERENCE] = {"reference", FIELD_STRING, .allow_blank = true, .max_len = 100},
    {NULL},
};

static const struct constraint_error payment_constraints[] = {
    {"payments_invoice_issued", NULL, "Payments are taken only on an issued invoice."},
    {"payments_amount_check", "amount", "Ensure this value is greater than or equal to 0.01."},
    {"payments_method_check", "method", "Select a valid choice."},
    {"payments_reference_check", "reference", "Ensure this field has no more than 100 characters."},
    {NULL},
};

static const struct list_ordering payment_orderings[] = {
    {"created_at", "created_at"},
    {NULL, NULL},
};

static const struct list_spec payment_list = {
    .columns = payment_columns,
    .from = "payments",
    .orderings = payment_orderings,
    .default_order = "created_at ASC, id ASC",
    .tiebreak = "id",
    .audit_entity = "invoice",
};

static const struct db_stmt invoice_exists = {"invoices_exists",
                                              "SELECT 1 FROM invoices WHERE id = $1", 1};

void invoices_payments_list(struct http_request *req, struct http_response *res)
{
	struct list_condition of_invoice = {"invoice_id = $?::bigint",
	                                    http_request_id_text(req, 0)};
	PGresult *row;
	enum hms_err err = crud_fetch(req, &invoice_exists, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	crud_respond_list(req, res, &payment_list, &of_invoice, 1);
}

static const struct db_stmt insert_payment = {
    "invoices_insert_payment",
    "INSERT INTO payments (invoice_id, amount, method, reference, created_by) "
    "VALUES ($1, $2::numeric, $3, $4, $5::bigint) RETURNING " DB_COLUMNS,
    5, payment_columns};
static const struct db_stmt amount_due = {
    "invoices_amount_due", "SELECT (total - amount_paid)::text FROM invoices WHERE id = $1", 1};

/* An overpayment: the field error names what is due now. */
static void respond_overpayment(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err = crud_fetch(req, &amount_due, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	http_respond_field_error(
	    res, "amount",
	    arena_printf(req->arena,
	                 "Ensure this value is less than or equal to the amount due, %s.",
	                 PQgetvalue(row, 0, 0)));
}

void invoices_pay(struct http_request *req, struct http_response *res)
{
	struct json_object *errors;
	struct validated v;
	const char *params[5];
	const char *key;
	PGresult *row = NULL;
	enum hms_err err;

	/* A retry under the same Idempotency-Key is answered from the key, in
	 * the payment's transaction (idempotency.h): recorded once. */
	if (!idempotency_key_of(req, res, &key))
		return;
	if (key != NULL && !idempotency_begin(req, res, key))
		return;
	errors = validate_body(req->arena, payment_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		db_rollback(req->db);
		http_respond_field_errors(res, errors);
		return;
	}
	/* Invoices are never deleted: one that exists now exists at the insert. */
	err = crud_fetch(req, &invoice_exists, &row);
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	params[0] = http_request_id_text(req, 0);
	params[1] = v.values[P_AMOUNT];
	params[2] = v.values[P_METHOD];
	params[3] = v.values[P_REFERENCE] != NULL ? v.values[P_REFERENCE] : "";
	params[4] = arena_printf(req->arena, "%lld", (long long)req->user.id);
	err = params[0] == NULL || params[4] == NULL ? HMS_ERR_NOMEM
	      : key != NULL                          ? HMS_OK
	                                             : db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &insert_payment, params, &row);
	if (err != HMS_OK && row != NULL &&
	    strcmp(db_result_constraint(row), "payments_within_amount_due") == 0) {
		db_rollback(req->db);
		respond_overpayment(req, res);
		return;
	}
	/* The invoice changed (amount paid, maybe its status): one "payment"
	 * row on the invoice, in the payment's transaction. A replay audits
	 * a read of the invoice, as the list of its payments does. */
	if (err == HMS_OK && key != NULL) {
		struct json_object *body = columns_row_json(payment_columns, row, 0);

		err = body == NULL ? HMS_ERR_NOMEM
		                   : idempotency_store(req, key, 201, body, "invoice", req->ids[0]);
		json_object_put(body);
	}
	if (crud_commit(req, res, err, row, payment_constraints, "payment", "invoice", req->ids[0]))
		crud_respond_row(req, res, 201, payment_columns, row);
}
