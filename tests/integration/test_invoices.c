/*
 * test_invoices.c - billing through the real stack (nginx TLS -> FastCGI ->
 * hms -> PostgreSQL): totals in exact decimal arithmetic for awkward values
 * and at the largest bounds, amounts as JSON strings and numbers, the field
 * errors of bad amounts, every transition and every invalid one, payments
 * and overpayment, SPEC section 4's rows for invoices and payments,
 * ETag/If-Match, filters, the number format and the audit rows.
 *
 * The races (concurrent payments, concurrent numbering) are in
 * test_billing_races.c, in the serial fault binary.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* POSTs an invoice for patient with items (a JSON array text) and extra
 * members (",\"tax_rate\": 16" or ""), as token. */
static void post_invoice(const char *token, long long patient, const char *items, const char *extra,
                         struct client_response *res)
{
	char *body = client_format("{\"patient\": %lld, \"items\": %s%s}", patient, items, extra);

	client_post_json("/api/invoices/", token, body, res);
	free(body);
}

/* Creates one as the admin; asserts 201 and returns the id. */
static long long add_invoice(long long patient, const char *items, const char *extra)
{
	struct client_response res;
	long long id;

	post_invoice(client_admin_token(), patient, items, extra, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

#define ONE_ITEM(price)                                                                            \
	"[{\"description\": \"Consultation\", \"quantity\": 1, \"unit_price\": " price "}]"

static char *invoice_path(long long id, const char *tail)
{
	return client_format("/api/invoices/%lld/%s", id, tail);
}

/* POST /api/invoices/{id}/<action>/ as token (no body). */
static void act(long long id, const char *action, const char *token, struct client_response *res)
{
	char *path = invoice_path(id, action);

	client_call("POST", path, token, NULL, NULL, res);
	free(path);
}

static void act_expect(long long id, const char *action, long status)
{
	struct client_response res;

	act(id, action, client_admin_token(), &res);
	if (status == 200)
		client_assert_status(&res, 200);
	else
		client_assert_detail(&res, status);
	client_response_free(&res);
}

static void pay(long long id, const char *body, const char *token, struct client_response *res)
{
	char *path = invoice_path(id, "payments/");

	client_post_json(path, token, body, res);
	free(path);
}

static void pay_expect(long long id, const char *body, long status)
{
	struct client_response res;

	pay(id, body, client_admin_token(), &res);
	client_assert_status(&res, status);
	client_response_free(&res);
}

static void get_invoice(long long id, const char *token, struct client_response *res)
{
	char *path = invoice_path(id, "");

	client_get_auth(path, token, res);
	free(path);
}

/* The invoice's member key as stored now (a string). */
static void assert_member(long long id, const char *key, const char *want)
{
	struct client_response res;

	get_invoice(id, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, key), want, "%s of invoice %lld", key, id);
	client_response_free(&res);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key,
	          json_object_to_json_string(o));
	return v;
}

/* errors["items"][i][key] exists (a per-line DRF error). */
static void assert_line_error(const struct client_response *res, size_t i, const char *key)
{
	struct json_object *lines = member(res->json, "items"), *line;

	client_assert_status(res, 400);
	cr_assert(json_object_is_type(lines, json_type_array), "%s", res->body);
	line = json_object_array_get_idx(lines, i);
	cr_assert(line != NULL && json_object_object_get_ex(line, key, NULL), "line %zu %s: %s", i,
	          key, res->body);
}

/* A 400 with an error on field, its own messages or its lines' errors. */
static void assert_error_on(const struct client_response *res, const char *field)
{
	client_assert_status(res, 400);
	cr_assert(json_object_object_get_ex(res->json, field, NULL), "no error on %s: %s", field,
	          res->body);
}

/* --- totals ---------------------------------------------------------------------- */

struct totals_case {
	const char *items, *extra;
	const char *subtotal, *tax, *total;
};

Test(invoices, totals_are_exact_for_awkward_values)
{
	static const struct totals_case cases[] = {
	    /* 0.1 + 0.2 is 0.30, not 0.30000000000000004: strings and numbers. */
	    {"[{\"description\": \"a\", \"quantity\": 1, \"unit_price\": 0.1}, "
	     "{\"description\": \"b\", \"quantity\": \"1\", \"unit_price\": \"0.2\"}]",
	     "", "0.30", "0.00", "0.30"},
	    {"[{\"description\": \"Tablets\", \"quantity\": 3, \"unit_price\": \"19.99\"}]", "",
	     "59.97", "0.00", "59.97"},
	    {"[{\"description\": \"Tablets\", \"quantity\": \"3.00\", \"unit_price\": 19.99}]",
	     ", \"tax_rate\": \"16.00\"", "59.97", "9.60", "69.57"},
	    /* 16% of 0.05 is 0.008: half-up to 0.01. */
	    {ONE_ITEM("\"0.05\""), ", \"tax_rate\": 16", "0.05", "0.01", "0.06"},
	    /* 16% of 0.03 is 0.0048: down to 0.00. 12.5% of 0.20 is 0.025: up. */
	    {ONE_ITEM("0.03"), ", \"tax_rate\": \"16\"", "0.03", "0.00", "0.03"},
	    {ONE_ITEM("0.20"), ", \"tax_rate\": 12.5", "0.20", "0.03", "0.23"},
	    /* Each line rounds half-up to cents before the sum: 0.5 x 0.01 =
	     * 0.005 -> 0.01, twice. */
	    {"[{\"description\": \"a\", \"quantity\": 0.5, \"unit_price\": 0.01}, "
	     "{\"description\": \"b\", \"quantity\": \"0.50\", \"unit_price\": \"0.01\"}]",
	     "", "0.02", "0.00", "0.02"},
	    /* The largest line: 1,000 x 1,000,000.00, at the largest tax. */
	    {"[{\"description\": \"Max\", \"quantity\": 1000, \"unit_price\": \"1000000.00\"}]",
	     ", \"tax_rate\": 100", "1000000000.00", "1000000000.00", "2000000000.00"},
	    {"[{\"description\": \"Max\", \"quantity\": \"1000.00\", \"unit_price\": 1000000}]",
	     ", \"tax_rate\": \"16\"", "1000000000.00", "160000000.00", "1160000000.00"},
	    /* The largest unit price at the smallest quantity, and vice versa. */
	    {"[{\"description\": \"a\", \"quantity\": 0.01, \"unit_price\": 999999.99}, "
	     "{\"description\": \"b\", \"quantity\": 999.99, \"unit_price\": 0.01}]",
	     "", "10010.00", "0.00", "10010.00"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client_response res;
		long long patient = client_new_patient();

		post_invoice(client_admin_token(), patient, cases[i].items, cases[i].extra, &res);
		client_assert_status(&res, 201);
		cr_assert_str_eq(client_json_str(res.json, "subtotal"), cases[i].subtotal,
		                 "case %zu", i);
		cr_assert_str_eq(client_json_str(res.json, "tax"), cases[i].tax, "case %zu", i);
		cr_assert_str_eq(client_json_str(res.json, "total"), cases[i].total, "case %zu", i);
		cr_assert_str_eq(client_json_str(res.json, "amount_paid"), "0.00");
		cr_assert_str_eq(client_json_str(res.json, "amount_due"), cases[i].total);
		cr_assert_str_eq(client_json_str(res.json, "status"), "draft");
		client_response_free(&res);
	}
}

Test(invoices, lines_are_answered_as_two_place_strings_with_their_amount)
{
	struct client_response res;
	struct json_object *items, *line;

	post_invoice(client_admin_token(), client_new_patient(),
	             "[{\"description\": \"  X-ray  \", \"quantity\": 2, \"unit_price\": 19.9, "
	             "\"amount\": \"999.00\"}, {\"description\": \"Bed\", \"quantity\": \"1.5\", "
	             "\"unit_price\": \"33.33\"}]",
	             ", \"tax_rate\": 0", &res);
	client_assert_status(&res, 201);
	items = member(res.json, "items");
	cr_assert_eq(json_object_array_length(items), 2);
	line = json_object_array_get_idx(items, 0);
	cr_assert_str_eq(client_json_str(line, "description"), "X-ray");
	cr_assert_str_eq(client_json_str(line, "quantity"), "2.00");
	cr_assert_str_eq(client_json_str(line, "unit_price"), "19.90");
	cr_assert_str_eq(client_json_str(line, "amount"), "39.80",
	                 "the client's amount is ignored");
	line = json_object_array_get_idx(items, 1);
	cr_assert_str_eq(client_json_str(line, "amount"), "50.00"); /* 49.995 half-up */
	cr_assert_str_eq(client_json_str(res.json, "subtotal"), "89.80");
	cr_assert_str_eq(client_json_str(res.json, "tax_rate"), "0.00");
	cr_assert(json_object_is_type(member(res.json, "tax_rate"), json_type_string));
	cr_assert(json_object_is_type(member(res.json, "total"), json_type_string));
	client_response_free(&res);
}

Test(invoices, a_subtotal_past_the_bound_is_a_field_error)
{
	struct client_response res;
	long long patient = client_new_patient();

	post_invoice(client_admin_token(), patient,
	             "[{\"description\": \"Max\", \"quantity\": 1000, \"unit_price\": 1000000}, "
	             "{\"description\": \"One cent\", \"quantity\": 1, \"unit_price\": 0.01}]",
	             "", &res);
	client_assert_field_error(&res, "items");
	client_response_free(&res);
}

/* --- bad amounts ---------------------------------------------------------------- */

Test(invoices, zero_negative_text_and_three_places_are_field_errors)
{
	static const char *const bad[] = {"0",       "\"0.00\"", "-1",        "\"-0.01\"",
	                                  "\"abc\"", "\"\"",     "\"1.999\"", "1.999",
	                                  "true",    "\"1,50\"", "null",      "[]"};
	long long patient = client_new_patient();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct client_response res;
		char *items = client_format("[{\"description\": \"ok\", \"quantity\": 1, "
		                            "\"unit_price\": 1}, {\"description\": \"x\", "
		                            "\"quantity\": 1, \"unit_price\": %s}]",
		                            bad[i]);

		post_invoice(client_admin_token(), patient, items, "", &res);
		assert_line_error(&res, 1, "unit_price");
		cr_assert_eq(json_object_object_length(
		                 json_object_array_get_idx(member(res.json, "items"), 0)),
		             0, "the valid line has no errors: %s", res.body);
		client_response_free(&res);
		free(items);

		items = client_format("[{\"description\": \"x\", \"quantity\": %s, "
		                      "\"unit_price\": 1}]",
		                      bad[i]);
		post_invoice(client_admin_token(), patient, items, "", &res);
		assert_line_error(&res, 0, "quantity");
		client_response_free(&res);
		free(items);
	}
	{
		/* Bounds, blank descriptions, the list itself, the tax rate. */
		static const struct {
			const char *items, *extra, *field;
		} more[] = {
		    {ONE_ITEM("1000000.01"), "", "items"},
		    {"[{\"description\": \"x\", \"quantity\": 1000.01, \"unit_price\": 1}]", "",
		     "items"},
		    {"[{\"description\": \" \", \"quantity\": 1, \"unit_price\": 1}]", "", "items"},
		    {"[{\"quantity\": 1, \"unit_price\": 1}]", "", "items"},
		    {"[]", "", "items"},
		    {"{}", "", "items"},
		    {"\"x\"", "", "items"},
		    {ONE_ITEM("1"), ", \"tax_rate\": -1", "tax_rate"},
		    {ONE_ITEM("1"), ", \"tax_rate\": 100.01", "tax_rate"},
		    {ONE_ITEM("1"), ", \"tax_rate\": \"16.005\"", "tax_rate"},
		    {ONE_ITEM("1"), ", \"tax_rate\": \"sixteen\"", "tax_rate"},
		    {ONE_ITEM("1"), ", \"due_date\": \"2001-01-01\"", "due_date"},
		    {ONE_ITEM("1"), ", \"due_date\": \"tomorrow\"", "due_date"},
		    {ONE_ITEM("1"), ", \"appointment\": 0", "appointment"},
		};

		for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
			struct client_response res;

			post_invoice(client_admin_token(), patient, more[i].items, more[i].extra,
			             &res);
			assert_error_on(&res, more[i].field);
			client_response_free(&res);
		}
	}
	{
		struct client_response res;
		char *many = malloc(101 * 64 + 8);
		size_t n = 0;

		cr_assert_not_null(many);
		many[n++] = '[';
		for (int i = 0; i < 101; i++)
			n += (size_t)snprintf(many + n, 64,
			                      "%s{\"description\": \"l%d\", "
			                      "\"quantity\": 1, \"unit_price\": 1}",
			                      i > 0 ? "," : "", i);
		many[n++] = ']';
		many[n] = '\0';
		post_invoice(client_admin_token(), patient, many, "", &res);
		client_assert_field_error(&res, "items");
		client_response_free(&res);
		free(many);
	}
	{
		/* Required on create: patient and items. */
		struct client_response res;

		client_post_json("/api/invoices/", client_admin_token(), "{}", &res);
		client_assert_field_error(&res, "patient");
		client_assert_field_error(&res, "items");
		client_response_free(&res);
	}
}

Test(invoices, patient_and_appointment_rules)
{
	struct client_response res;
	long long patient = client_new_patient(), other = client_new_patient(), doctor, mine,
	          theirs;
	char *sql, *extra, *path;

	/* Unknown and soft-deleted patients. */
	post_invoice(client_admin_token(), 999999999, ONE_ITEM("1"), "", &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);
	path = client_format("/api/patients/%lld/", other);
	client_delete_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	free(path);
	post_invoice(client_admin_token(), other, ONE_ITEM("1"), "", &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);

	other = client_new_patient();
	sql = client_format("INSERT INTO doctors (first_name, last_name, license_number) VALUES "
	                    "('Inv', 'Doc', 'INV-%lld') RETURNING id",
	                    patient);
	doctor = client_sql_long(sql);
	free(sql);
	sql =
	    client_format("INSERT INTO appointments (patient_id, doctor_id, start_time, end_time) "
	                  "VALUES (%lld, %lld, now() + interval '1 day', now() + interval '1 day "
	                  "30 minutes') RETURNING id",
	                  patient, doctor);
	mine = client_sql_long(sql);
	free(sql);
	sql =
	    client_format("INSERT INTO appointments (patient_id, doctor_id, start_time, end_time) "
	                  "VALUES (%lld, %lld, now() + interval '2 days', now() + interval '2 days "
	                  "30 minutes') RETURNING id",
	                  other, doctor);
	theirs = client_sql_long(sql);
	free(sql);

	extra = client_format(", \"appointment\": %lld", theirs);
	post_invoice(client_admin_token(), patient, ONE_ITEM("1"), extra, &res);
	client_assert_field_error(&res, "appointment");
	client_response_free(&res);
	free(extra);
	extra = client_format(", \"appointment\": %lld", mine);
	post_invoice(client_admin_token(), patient, ONE_ITEM("1"), extra, &res);
	client_assert_status(&res, 201);
	cr_assert_eq(client_json_int(res.json, "appointment"), mine);
	path = invoice_path(client_json_int(res.json, "id"), "");
	client_response_free(&res);
	free(extra);
	/* Moving the draft to the other patient leaves the appointment behind. */
	extra = client_format("{\"patient\": %lld}", other);
	client_patch_json(path, client_admin_token(), extra, &res);
	client_assert_field_error(&res, "appointment");
	client_response_free(&res);
	free(extra);
	extra = client_format("{\"patient\": %lld, \"appointment\": %lld}", other, theirs);
	client_patch_json(path, client_admin_token(), extra, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "patient"), other);
	client_response_free(&res);
	free(extra);
	free(path);
}

/* --- transitions and editing ------------------------------------------------------ */

Test(invoices, drafts_are_edited_and_nothing_else_is)
{
	struct client_response res;
	long long patient = client_new_patient(), id = add_invoice(patient, ONE_ITEM("10"), "");
	char *path = invoice_path(id, "");

	client_patch_json(path, client_admin_token(),
	                  "{\"tax_rate\": \"10\", \"items\": [{\"description\": \"Two\", "
	                  "\"quantity\": 2, \"unit_price\": \"25.50\"}], \"status\": \"paid\", "
	                  "\"total\": \"1.00\", \"number\": \"INV-1999-000001\"}",
	                  &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "subtotal"), "51.00");
	cr_assert_str_eq(client_json_str(res.json, "tax"), "5.10");
	cr_assert_str_eq(client_json_str(res.json, "total"), "56.10");
	cr_assert_str_eq(client_json_str(res.json, "status"), "draft", "read-only fields ignored");
	cr_assert_str_neq(client_json_str(res.json, "number"), "INV-1999-000001");
	client_response_free(&res);

	/* PUT: patient and items required. */
	client_put_json(path, client_admin_token(), "{\"tax_rate\": 1}", &res);
	client_assert_field_error(&res, "patient");
	client_assert_field_error(&res, "items");
	client_response_free(&res);

	act_expect(id, "issue/", 200);
	client_patch_json(path, client_admin_token(), "{\"tax_rate\": \"5\"}", &res);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	{
		char *body =
		    client_format("{\"patient\": %lld, \"items\": " ONE_ITEM("1") "}", patient);

		client_put_json(path, client_admin_token(), body, &res);
		client_assert_detail(&res, 409);
		client_response_free(&res);
		free(body);
	}
	/* Even a PATCH that would change nothing. */
	client_patch_json(path, client_admin_token(), "{}", &res);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	assert_member(id, "tax_rate", "10.00");
	assert_member(id, "total", "56.10");
	free(path);
}

Test(invoices, every_transition_and_every_invalid_one)
{
	struct client_response res;
	long long patient = client_new_patient();
	long long a = add_invoice(patient, ONE_ITEM("100"), "");
	long long b = add_invoice(patient, ONE_ITEM("100"), "");
	long long c = add_invoice(patient, ONE_ITEM("100"), "");

	/* draft: pay 409, void -> void; void: issue, void, pay, edit 409. */
	pay_expect(a, "{\"amount\": 1, \"method\": \"cash\"}", 409);
	act(a, "void/", client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "status"), "void");
	cr_assert_not_null(client_json_str(res.json, "voided_at"));
	client_response_free(&res);
	act_expect(a, "void/", 409);
	act_expect(a, "issue/", 409);
	pay_expect(a, "{\"amount\": 1, \"method\": \"cash\"}", 409);

	/* draft -> issued: issued_at, due date issue day + 30; issue twice 409. */
	act(b, "issue/", client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "status"), "issued");
	cr_assert_not_null(client_json_str(res.json, "issued_at"));
	{
		char *sql =
		    client_format("SELECT (due_date - issue_date)::text FROM invoices WHERE "
		                  "id = %lld",
		                  b);
		char *days = client_sql_value(sql);

		cr_assert_str_eq(days, "30");
		free(days);
		free(sql);
	}
	client_response_free(&res);
	act_expect(b, "issue/", 409);
	/* issued with payments: void 409; covered: paid; paid: void, issue 409, pay 400. */
	pay_expect(b, "{\"amount\": \"40\", \"method\": \"card\"}", 201);
	assert_member(b, "status", "issued");
	act_expect(b, "void/", 409);
	pay_expect(b, "{\"amount\": 60, \"method\": \"insurance\", \"reference\": \"POL-1\"}", 201);
	assert_member(b, "status", "paid");
	assert_member(b, "amount_paid", "100.00");
	assert_member(b, "amount_due", "0.00");
	act_expect(b, "void/", 409);
	act_expect(b, "issue/", 409);
	/* Nothing is due on a paid invoice: any payment overpays it. */
	pay(b, "{\"amount\": \"0.01\", \"method\": \"cash\"}", client_admin_token(), &res);
	client_assert_field_error(&res, "amount");
	cr_assert_not_null(strstr(res.body, "0.00"), "%s", res.body);
	client_response_free(&res);

	/* issued with nothing paid -> void. */
	act_expect(c, "issue/", 200);
	act_expect(c, "void/", 200);
	assert_member(c, "status", "void");
	pay_expect(c, "{\"amount\": 1, \"method\": \"cash\"}", 409);

	/* Unknown invoice: 404 everywhere. */
	act_expect(999999999, "issue/", 404);
	act_expect(999999999, "void/", 404);
	pay_expect(999999999, "{\"amount\": 1, \"method\": \"cash\"}", 404);
}

Test(invoices, a_total_of_zero_is_paid_on_issue_and_a_past_due_date_blocks_it)
{
	struct client_response res;
	long long patient = client_new_patient();
	long long zero = add_invoice(
	    patient, "[{\"description\": \"Free\", \"quantity\": 0.01, \"unit_price\": 0.01}]", "");
	long long late = add_invoice(patient, ONE_ITEM("5"), "");
	char *sql;

	assert_member(zero, "total", "0.00");
	act(zero, "issue/", client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "status"), "paid");
	client_response_free(&res);

	/* A draft whose due date has passed meanwhile cannot be issued. */
	sql = client_format("UPDATE invoices SET due_date = current_date - 1 WHERE id = %lld "
	                    "RETURNING id",
	                    late);
	cr_assert_eq(client_sql_long(sql), late);
	free(sql);
	act_expect(late, "issue/", 409);
	assert_member(late, "status", "draft");
}

/* --- payments --------------------------------------------------------------------- */

Test(invoices, payments_cover_the_total_and_never_exceed_it)
{
	struct client_response res;
	long long id = add_invoice(client_new_patient(), ONE_ITEM("19.99"), ", \"tax_rate\": 16");
	char *path = invoice_path(id, "payments/");
	struct json_object *results;

	assert_member(id, "total", "23.19"); /* 19.99 + 3.1984 -> 3.20 */
	act_expect(id, "issue/", 200);
	pay(id, "{\"amount\": 23.20, \"method\": \"cash\"}", client_admin_token(), &res);
	client_assert_field_error(&res, "amount");
	cr_assert_not_null(strstr(res.body, "23.19"), "names the amount due: %s", res.body);
	client_response_free(&res);

	/* Field errors: amount, method, reference. */
	{
		static const char *const bad[] = {
		    "{\"amount\": 0, \"method\": \"cash\"}",
		    "{\"amount\": \"-1\", \"method\": \"cash\"}",
		    "{\"amount\": \"1.001\", \"method\": \"cash\"}",
		    "{\"amount\": \"ten\", \"method\": \"cash\"}",
		    "{\"method\": \"cash\"}",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			pay(id, bad[i], client_admin_token(), &res);
			client_assert_field_error(&res, "amount");
			client_response_free(&res);
		}
		pay(id, "{\"amount\": 1, \"method\": \"cheque\"}", client_admin_token(), &res);
		client_assert_field_error(&res, "method");
		client_response_free(&res);
		pay(id, "{\"amount\": 1}", client_admin_token(), &res);
		client_assert_field_error(&res, "method");
		client_response_free(&res);
		{
			char reference[160];

			memset(reference, 'r', 101);
			reference[101] = '\0';
			{
				char *body = client_format(
				    "{\"amount\": 1, \"method\": \"card\", \"reference\": \"%s\"}",
				    reference);

				pay(id, body, client_admin_token(), &res);
				client_assert_field_error(&res, "reference");
				client_response_free(&res);
				free(body);
			}
		}
	}

	pay(id, "{\"amount\": \"0.19\", \"method\": \"card\", \"reference\": \"T-1\"}",
	    client_admin_token(), &res);
	client_assert_status(&res, 201);
	cr_assert_str_eq(client_json_str(res.json, "amount"), "0.19");
	cr_assert_str_eq(client_json_str(res.json, "method"), "card");
	cr_assert_str_eq(client_json_str(res.json, "reference"), "T-1");
	cr_assert_eq(client_json_int(res.json, "invoice"), id);
	client_response_free(&res);
	pay(id, "{\"amount\": 23.01, \"method\": \"cash\"}", client_admin_token(), &res);
	client_assert_field_error(&res, "amount");
	client_response_free(&res);
	pay_expect(id, "{\"amount\": 23, \"method\": \"transfer\"}", 201);
	assert_member(id, "status", "paid");
	assert_member(id, "amount_paid", "23.19");

	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 2);
	results = client_list_results(&res);
	cr_assert_str_eq(client_json_str(json_object_array_get_idx(results, 0), "amount"), "0.19",
	                 "oldest first");
	cr_assert_str_eq(client_json_str(json_object_array_get_idx(results, 1), "amount"), "23.00");
	client_response_free(&res);
	{
		char *sql =
		    client_format("SELECT (sum(amount) = (SELECT amount_paid FROM invoices "
		                  "WHERE id = %lld))::text FROM payments WHERE invoice_id = %lld",
		                  id, id);
		char *same = client_sql_value(sql);

		cr_assert_str_eq(same, "true");
		free(same);
		free(sql);
	}
	free(path);
}

Test(invoices, payments_are_never_changed_or_deleted)
{
	struct client_response res;
	long long id = add_invoice(client_new_patient(), ONE_ITEM("10"), "");
	char *list = invoice_path(id, "payments/");
	char *value;

	act_expect(id, "issue/", 200);
	pay_expect(id, "{\"amount\": 5, \"method\": \"cash\"}", 201);
	client_delete_auth(list, client_admin_token(), &res);
	client_assert_detail(&res, 405);
	cr_assert_null(strstr(client_header(&res, "Allow"), "DELETE"));
	client_response_free(&res);
	client_put_json(list, client_admin_token(), "{\"amount\": 1, \"method\": \"cash\"}", &res);
	client_assert_status(&res, 405);
	client_response_free(&res);
	client_get_auth("/api/payments/1/", client_admin_token(), &res);
	client_assert_status(&res, 404);
	client_response_free(&res);
	{
		char *path = invoice_path(id, "");

		client_delete_auth(path, client_admin_token(), &res);
		client_assert_detail(&res, 405);
		client_response_free(&res);
		free(path);
	}
	/* The application's role may not, and triggers refuse everyone. */
	value = client_sql_value("SELECT (has_table_privilege('hms_app', 'payments', 'UPDATE') OR "
	                         "has_table_privilege('hms_app', 'payments', 'DELETE') OR "
	                         "has_table_privilege('hms_app', 'invoices', 'DELETE'))::text");
	cr_assert_str_eq(value, "false");
	free(value);
	value = client_sql_value("SELECT count(*)::text FROM pg_trigger WHERE tgname IN "
	                         "('payments_no_change', 'payments_no_truncate', "
	                         "'invoices_no_delete', 'invoices_no_truncate')");
	cr_assert_str_eq(value, "4");
	free(value);
	free(list);
}

/* --- roles ------------------------------------------------------------------------ */

Test(invoices, roles_as_spec_section_4)
{
	static const char *const clinical[] = {"doctor", "nurse"};
	struct client_session billing, clerk, clinician[2];
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path, *payments, *items;

	client_open_session("billing", &billing);
	client_open_session("receptionist", &clerk);
	/* billing writes everything. */
	post_invoice(billing.tokens.access, patient, ONE_ITEM("10"), "", &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_eq(client_json_int(res.json, "created_by"), billing.user.id);
	client_response_free(&res);
	path = invoice_path(id, "");
	payments = invoice_path(id, "payments/");
	client_patch_json(path, billing.tokens.access, "{\"tax_rate\": 1}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	act(id, "issue/", billing.tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	pay(id, "{\"amount\": 1, \"method\": \"cash\"}", billing.tokens.access, &res);
	client_assert_status(&res, 201);
	cr_assert_eq(client_json_int(res.json, "created_by"), billing.user.id);
	client_response_free(&res);

	/* The receptionist reads: list, one, payments; writes nothing. */
	client_get_auth("/api/invoices/", clerk.tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_get_auth(path, clerk.tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_get_auth(payments, clerk.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 1);
	client_response_free(&res);
	post_invoice(clerk.tokens.access, patient, ONE_ITEM("1"), "", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_patch_json(path, clerk.tokens.access, "{\"tax_rate\": 2}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	act(id, "void/", clerk.tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	pay(id, "{\"amount\": 1, \"method\": \"cash\"}", clerk.tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);

	/* Doctors and nurses: 403 on everything. */
	items = client_format("{\"patient\": %lld, \"items\": " ONE_ITEM("1") "}", patient);
	for (int i = 0; i < 2; i++) {
		const char *t;

		client_open_session(clinical[i], &clinician[i]);
		t = clinician[i].tokens.access;
		client_get_auth("/api/invoices/", t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_get_auth(path, t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_get_auth(payments, t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_post_json("/api/invoices/", t, items, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_put_json(path, t, items, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		act(id, "issue/", t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		pay(id, "{\"amount\": 1, \"method\": \"cash\"}", t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&clinician[i]);
	}
	/* Nothing the refused changed. */
	assert_member(id, "amount_paid", "1.00");
	assert_member(id, "tax_rate", "1.00");
	/* No token: 401. */
	client_get(path, &res);
	client_assert_status(&res, 401);
	client_response_free(&res);
	free(items);
	free(path);
	free(payments);
	client_close_session(&billing);
	client_close_session(&clerk);
}

/* --- ETag / If-Match ----------------------------------------------------------------- */

Test(invoices, stale_if_match_is_412_and_changes_nothing)
{
	struct client_response res;
	long long id = add_invoice(client_new_patient(), ONE_ITEM("10"), "");
	char *path = invoice_path(id, "");
	char *issue = invoice_path(id, "issue/");
	char first[128], header[160], second[160];
	const char *headers[2] = {header, NULL};

	get_invoice(id, client_admin_token(), &res);
	snprintf(first, sizeof(first), "%s", client_header(&res, "ETag"));
	client_response_free(&res);
	snprintf(header, sizeof(header), "If-Match: %s", first);

	client_call_headers("PATCH", path, client_admin_token(), headers, "{\"tax_rate\": 5}",
	                    &res);
	client_assert_status(&res, 200);
	snprintf(second, sizeof(second), "If-Match: %s", client_header(&res, "ETag"));
	client_response_free(&res);
	client_call_headers("PATCH", path, client_admin_token(), headers, "{\"tax_rate\": 7}",
	                    &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	client_call_headers("POST", issue, client_admin_token(), headers, NULL, &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	assert_member(id, "tax_rate", "5.00");
	assert_member(id, "status", "draft");

	/* The current tag issues; afterwards the invoice's tag moves with each
	 * payment. */
	snprintf(header, sizeof(header), "%s", second);
	client_call_headers("POST", issue, client_admin_token(), headers, NULL, &res);
	client_assert_status(&res, 200);
	snprintf(first, sizeof(first), "%s",
	         client_header(&res, "ETag") != NULL ? client_header(&res, "ETag") : "");
	client_response_free(&res);
	pay_expect(id, "{\"amount\": 1, \"method\": \"cash\"}", 201);
	get_invoice(id, client_admin_token(), &res);
	cr_assert_str_neq(client_header(&res, "ETag"), first);
	client_response_free(&res);
	/* A stale tag on an issued invoice: 412 before 409. */
	client_call_headers("PATCH", path, client_admin_token(), headers, "{\"tax_rate\": 9}",
	                    &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	free(path);
	free(issue);
}

/* --- lists ------------------------------------------------------------------------ */

Test(invoices, filters_ordering_and_numbers)
{
	struct client_response res;
	long long patient = client_new_patient();
	long long draft = add_invoice(patient, ONE_ITEM("1"), "");
	long long issued = add_invoice(patient, ONE_ITEM("2"), "");
	long long voided = add_invoice(patient, ONE_ITEM("3"), "");
	struct json_object *results;
	char *url, *a, *b;

	act_expect(issued, "issue/", 200);
	act_expect(voided, "void/", 200);

	url = client_format("/api/invoices/?patient=%lld", patient);
	client_get_auth(url, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 3);
	results = client_list_results(&res);
	cr_assert_eq(client_json_int(json_object_array_get_idx(results, 0), "id"), voided,
	             "newest first");
	/* Numbers: INV-<year>-<6 digits>, increasing in creation order. Other
	 * tests create invoices at the same time, so two of one patient need
	 * not be consecutive; what the product promises is a year's numbers
	 * without a gap or a repeat, checked over all of them. */
	a = strdup(client_json_str(json_object_array_get_idx(results, 2), "number"));
	b = strdup(client_json_str(json_object_array_get_idx(results, 1), "number"));
	cr_assert_eq(strlen(a), 15, "%s", a);
	cr_assert_eq(strncmp(a, "INV-20", 6), 0, "%s", a);
	cr_assert_gt(atol(b + 9), atol(a + 9), "%s then %s", a, b);
	cr_assert_eq(client_sql_long("SELECT count(*) FROM (SELECT substr(number, 5, 4) AS year, "
	                             "count(*) AS n, count(DISTINCT number) AS d, "
	                             "max(substr(number, 10)::int) AS top FROM invoices "
	                             "GROUP BY 1) y WHERE n <> d OR top <> n"),
	             0, "every year's invoice numbers run from 1 without a gap or a repeat");
	client_response_free(&res);
	free(url);

	url = client_format("/api/invoices/?patient=%lld&status=issued", patient);
	client_get_auth(url, client_admin_token(), &res);
	cr_assert_eq(client_count_of(&res), 1);
	cr_assert_eq(client_json_int(json_object_array_get_idx(client_list_results(&res), 0), "id"),
	             issued);
	client_response_free(&res);
	free(url);

	url = client_format("/api/invoices/?patient=%lld&issued_after=2000-01-01", patient);
	client_get_auth(url, client_admin_token(), &res);
	cr_assert_eq(client_count_of(&res), 1, "only the issued one has issued_at: %s", res.body);
	client_response_free(&res);
	free(url);
	url = client_format("/api/invoices/?patient=%lld&issued_before=2000-01-01T00:00:00Z",
	                    patient);
	client_get_auth(url, client_admin_token(), &res);
	cr_assert_eq(client_count_of(&res), 0);
	client_response_free(&res);
	free(url);

	url = client_format("/api/invoices/?patient=%lld&ordering=number", patient);
	client_get_auth(url, client_admin_token(), &res);
	cr_assert_eq(client_json_int(json_object_array_get_idx(client_list_results(&res), 0), "id"),
	             draft);
	client_response_free(&res);
	free(url);
	url = client_format("/api/invoices/?patient=%lld&cursor=&page_size=2&ordering=-created_at",
	                    patient);
	client_get_auth(url, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 2);
	client_response_free(&res);
	free(url);

	client_get_auth("/api/invoices/?status=unpaid", client_admin_token(), &res);
	client_assert_field_error(&res, "status");
	client_response_free(&res);
	client_get_auth("/api/invoices/?ordering=total", client_admin_token(), &res);
	client_assert_field_error(&res, "ordering");
	client_response_free(&res);
	client_get_auth("/api/invoices/?issued_after=yesterday", client_admin_token(), &res);
	client_assert_field_error(&res, "issued_after");
	client_response_free(&res);
	free(a);
	free(b);
}

/* --- audit ------------------------------------------------------------------------ */

static long long audit_count(const char *request_id, const char *action, long long entity_id,
                             long long actor)
{
	return client_audit_count(request_id, action, "invoice", entity_id, actor);
}

Test(invoices, reads_and_changes_are_audited_without_amounts_or_descriptions)
{
	enum { CREATE, READ, LIST, UPDATE, ISSUE, PAY, PAYMENTS, VOID_DRAFT, STEPS };
	static const char *const names[] = {"icreate", "iread", "ilist",     "iupdate",
	                                    "iissue",  "ipay",  "ipayments", "ivoid"};
	struct client_session billing, clerk;
	struct client_response res;
	long long patient = client_new_patient(), id, other;
	char rid[STEPS][64], header[STEPS][96], *path, *payments, *sql, *body;

	client_open_session("billing", &billing);
	client_open_session("receptionist", &clerk);
	for (int i = 0; i < STEPS; i++) {
		client_unique_name(names[i], rid[i], sizeof(rid[i]));
		snprintf(header[i], sizeof(header[i]), "X-Request-ID: %s", rid[i]);
	}
	body = client_format("{\"patient\": %lld, \"items\": [{\"description\": \"Zebrafinch "
	                     "therapy\", \"quantity\": 1, \"unit_price\": \"4321.09\"}]}",
	                     patient);
	client_call("POST", "/api/invoices/", billing.tokens.access, header[CREATE], body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body);
	other = add_invoice(patient, ONE_ITEM("1"), "");
	path = invoice_path(id, "");
	payments = invoice_path(id, "payments/");
	client_call("GET", path, clerk.tokens.access, header[READ], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	sql = client_format("/api/invoices/?patient=%lld", patient);
	client_call("GET", sql, clerk.tokens.access, header[LIST], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(sql);
	client_call("PATCH", path, billing.tokens.access, header[UPDATE], "{\"tax_rate\": 3}",
	            &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	sql = invoice_path(id, "issue/");
	client_call("POST", sql, billing.tokens.access, header[ISSUE], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(sql);
	client_call("POST", payments, billing.tokens.access, header[PAY],
	            "{\"amount\": \"1234.56\", \"method\": \"card\", \"reference\": \"Quokka-77\"}",
	            &res);
	client_assert_status(&res, 201);
	client_response_free(&res);
	client_call("GET", payments, clerk.tokens.access, header[PAYMENTS], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	sql = invoice_path(other, "void/");
	client_call("POST", sql, billing.tokens.access, header[VOID_DRAFT], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(sql);

	cr_assert_eq(audit_count(rid[CREATE], "create", id, billing.user.id), 1);
	cr_assert_eq(audit_count(rid[READ], "read", id, clerk.user.id), 1);
	cr_assert_eq(audit_count(rid[LIST], "list", 0, clerk.user.id), 1);
	cr_assert_eq(audit_count(rid[UPDATE], "update", id, billing.user.id), 1);
	cr_assert_eq(audit_count(rid[ISSUE], "issue", id, billing.user.id), 1);
	cr_assert_eq(audit_count(rid[PAY], "payment", id, billing.user.id), 1);
	cr_assert_eq(audit_count(rid[PAYMENTS], "list", 0, clerk.user.id), 1);
	cr_assert_eq(audit_count(rid[VOID_DRAFT], "void", other, billing.user.id), 1);
	{
		char *ids, *want;

		sql = client_format(
		    "SELECT entity_ids::text FROM audit_log WHERE request_id = '%s'", rid[LIST]);
		ids = client_sql_value(sql);
		want = client_format("{%lld,%lld}", other, id);
		cr_assert_str_eq(ids, want, "the list row names the invoices shown");
		free(ids);
		free(want);
		free(sql);
		sql =
		    client_format("SELECT entity_ids::text FROM audit_log WHERE request_id = '%s'",
		                  rid[PAYMENTS]);
		ids = client_sql_value(sql);
		want = client_format("{%lld}", id);
		cr_assert_str_eq(ids, want, "the payments list names the invoice");
		free(ids);
		free(want);
		free(sql);
	}
	sql = client_format(
	    "SELECT count(*) FROM audit_log WHERE request_id IN ('%s', '%s', '%s', "
	    "'%s', '%s', '%s', '%s', '%s') AND (audit_log::text ILIKE "
	    "'%%zebrafinch%%' OR audit_log::text ILIKE '%%quokka%%' OR "
	    "audit_log::text LIKE '%%4321.09%%' OR audit_log::text LIKE '%%1234.56%%')",
	    rid[0], rid[1], rid[2], rid[3], rid[4], rid[5], rid[6], rid[7]);
	cr_assert_eq(client_sql_long(sql), 0, "amounts or descriptions in the audit trail");
	free(sql);
	free(path);
	free(payments);
	client_close_session(&billing);
	client_close_session(&clerk);
}
