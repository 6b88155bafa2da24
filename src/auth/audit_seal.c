/*
 * audit_seal.c - sealing the audit trail in batches, and checking the seals
 * (see include/hms/audit_seal.h and schema/008_audit_seals.sql).
 *
 * Both sides compute a row's hash from the same canonical text, read back
 * from PostgreSQL with the same SELECT list, so the sealer and the verifier
 * cannot disagree about formatting. The MAC key never reaches the database:
 * a seal can only be made, or remade after an edit, by someone holding it.
 */
#include "hms/audit_seal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/config.h"
#include "hms/sha256.h"

/* Only one sealer at a time across every host (a session that holds it
 * seals; the others find it taken and wait for their next turn). */
#define SEAL_LOCK "7291046"

#define ZERO_MAC "0000000000000000000000000000000000000000000000000000000000000000"

/* The canonical columns of a row; the hash covers all but the first two
 * in this order, which are also the keys the walk needs. */
#define ROW_COLUMNS                                                                                \
	"id, txid, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "          \
	"coalesce(actor::text, ''), coalesce(actor_role, ''), action, coalesce(entity_type, ''), " \
	"coalesce(entity_id::text, ''), coalesce(request_id, ''), coalesce(host(ip), ''), "        \
	"outcome, coalesce(row_count::text, ''), coalesce(entity_ids::text, '')"
#define ROW_FIELDS 13

/* SHA-256 of one row of a ROW_COLUMNS result. */
static void row_hash(const PGresult *res, int row, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, "hms-audit-row-v1", 16);
	for (int f = 0; f < ROW_FIELDS; f++) {
		const char *v = PQgetvalue(res, row, f);

		/* No field can hold a newline (the schema's checks), so the
		 * joined text is unambiguous. */
		EVP_DigestUpdate(ctx, "\n", 1);
		EVP_DigestUpdate(ctx, v, strlen(v));
	}
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void audit_seal_mac(const struct config_jwt_key *key, long long id, long long from_txid,
                    long long to_txid, long long rows, const unsigned char *row_hashes,
                    const char *prev_mac, char out[AUDIT_SEAL_MAC_HEX + 1])
{
	char batch[SHA256_HEX_LEN + 1];
	char text[512];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int n;

	sha256_hex(row_hashes, (size_t)rows * 32, batch);
	n = snprintf(text, sizeof(text), "hms-audit-seal-v1\n%lld\n%lld\n%lld\n%lld\n%s\n%s", id,
	             from_txid, to_txid, rows, batch, prev_mac);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    HMAC(EVP_sha256(), key->secret, (int)key->secret_len, (const unsigned char *)text,
	         (size_t)n, mac, &mac_len) == NULL ||
	    mac_len != 32) {
		out[0] = '\0';
		return;
	}
	to_hex(mac, 32, out);
}

/* Runs sql; true when it succeeded with the expected status. */
static bool run(PGconn *conn, const char *sql, int nparams, const char *const *params,
                ExecStatusType want, PGresult **out, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != want) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		PQclear(res);
		return false;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return true;
}

static bool command(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	return run(conn, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
}

/* The last seal: its id, its end and its MAC; before the first seal, the
 * head of the rows chained one by one before seals existed. */
static bool last_seal(PGconn *conn, long long *id, long long *to_txid, char mac[65], char *err,
                      size_t errlen)
{
	PGresult *res;

	if (!run(conn, "SELECT id, to_txid, mac FROM audit_seals ORDER BY id DESC LIMIT 1", 0, NULL,
	         PGRES_TUPLES_OK, &res, err, errlen))
		return false;
	if (PQntuples(res) == 1) {
		*id = atoll(PQgetvalue(res, 0, 0));
		*to_txid = atoll(PQgetvalue(res, 0, 1));
		snprintf(mac, 65, "%s", PQgetvalue(res, 0, 2));
		PQclear(res);
		return true;
	}
	PQclear(res);
	*id = 0;
	*to_txid = 0;
	if (!run(conn, "SELECT hash FROM audit_log WHERE txid IS NULL ORDER BY id DESC LIMIT 1", 0,
	         NULL, PGRES_TUPLES_OK, &res, err, errlen))
		return false;
	snprintf(mac, 65, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : ZERO_MAC);
	PQclear(res);
	return true;
}

/* "{1,2,3}" for the row ids of res[0..n). */
static char *id_array(const PGresult *res, int n)
{
	size_t size = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &size);

	if (f == NULL)
		return NULL;
	fputc('{', f);
	for (int r = 0; r < n; r++)
		fprintf(f, "%s%s", r > 0 ? "," : "", PQgetvalue(res, r, 0));
	fputc('}', f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Writes the seal of rows[0..n) (a ROW_COLUMNS result). */
static bool write_seal(PGconn *conn, const struct config_jwt_key *key, long long id, long long from,
                       long long to, const PGresult *rows, int n, const char *prev_mac,
                       struct audit_seal_result *out, char *err, size_t errlen)
{
	unsigned char *hashes = malloc((size_t)n * 32 + 1);
	char *hex = malloc((size_t)n * 64 + 1);
	char *ids = id_array(rows, n);
	char id_text[24], from_text[24], to_text[24];
	const char *params[8];
	bool ok = false;

	if (hashes != NULL && hex != NULL && ids != NULL) {
		for (int r = 0; r < n; r++)
			row_hash(rows, r, hashes + 32 * r);
		to_hex(hashes, (size_t)n * 32, hex);
		audit_seal_mac(key, id, from, to, n, hashes, prev_mac, out->mac);
		snprintf(id_text, sizeof(id_text), "%lld", id);
		snprintf(from_text, sizeof(from_text), "%lld", from);
		snprintf(to_text, sizeof(to_text), "%lld", to);
		params[0] = id_text;
		params[1] = from_text;
		params[2] = to_text;
		params[3] = ids;
		params[4] = hex;
		params[5] = prev_mac;
		params[6] = key->kid;
		params[7] = out->mac;
		ok = out->mac[0] != '\0' &&
		     run(conn,
		         "INSERT INTO audit_seals (id, from_txid, to_txid, row_ids, row_hashes, "
		         "prev_mac, key_id, mac) VALUES ($1, $2, $3, $4::bigint[], decode($5, "
		         "'hex'), "
		         "$6, $7, $8)",
		         8, params, PGRES_COMMAND_OK, NULL, err, errlen);
	} else {
		snprintf(err, errlen, "out of memory");
	}
	free(hashes);
	free(hex);
	free(ids);
	if (ok) {
		out->seal_id = id;
		out->rows = n;
	}
	return ok;
}

int audit_seal_pass(PGconn *conn, const struct config_jwt_key *key, struct audit_seal_result *out,
                    char *err, size_t errlen)
{
	char from_text[24], to_text[24], limit[24];
	const char *params[3] = {from_text, to_text, limit};
	long long id, from, to;
	char prev[65];
	PGresult *res = NULL, *rows = NULL;
	int n;
	bool ok;

	memset(out, 0, sizeof(*out));
	/* One snapshot for both the boundary and the rows: every transaction
	 * below its xmin has ended, and its rows are visible in it. */
	if (!command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", err, errlen))
		return -1;
	ok = run(conn,
	         "SELECT pg_try_advisory_xact_lock(" SEAL_LOCK "), "
	         "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
	         0, NULL, PGRES_TUPLES_OK, &res, err, errlen);
	if (ok && PQgetvalue(res, 0, 0)[0] != 't') {
		PQclear(res);
		return command(conn, "ROLLBACK", err, errlen) ? 0 : -1;
	}
	if (ok) {
		to = atoll(PQgetvalue(res, 0, 1));
		PQclear(res);
		ok = last_seal(conn, &id, &from, prev, err, errlen);
	}
	if (ok) {
		snprintf(from_text, sizeof(from_text), "%lld", from);
		snprintf(to_text, sizeof(to_text), "%lld", to);
		snprintf(limit, sizeof(limit), "%d", AUDIT_SEAL_MAX_ROWS + 1);
		ok = run(conn,
		         "SELECT " ROW_COLUMNS " FROM audit_log WHERE txid >= $1 AND txid < $2 "
		         "ORDER BY txid, id LIMIT $3",
		         3, params, PGRES_TUPLES_OK, &rows, err, errlen);
	}
	if (ok && (n = PQntuples(rows)) > 0) {
		if (n > AUDIT_SEAL_MAX_ROWS) {
			/* A backlog: this seal ends where the last whole transaction
			 * that fits ends; the next pass takes the rest. */
			long long cut = atoll(PQgetvalue(rows, AUDIT_SEAL_MAX_ROWS, 1));

			n = AUDIT_SEAL_MAX_ROWS;
			while (n > 0 && atoll(PQgetvalue(rows, n - 1, 1)) == cut)
				n--;
			to = n > 0 ? cut : cut + 1; /* one huge transaction: all of it */
			if (n == 0)
				n = AUDIT_SEAL_MAX_ROWS + 1;
		}
		ok = write_seal(conn, key, id + 1, from, to, rows, n, prev, out, err, errlen) &&
		     command(conn, "COMMIT", err, errlen);
	} else if (ok) {
		ok = command(conn, "ROLLBACK", err, errlen); /* nothing new */
	}
	PQclear(rows);
	if (!ok) {
		PQclear(PQexec(conn, "ROLLBACK"));
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* --- verification ------------------------------------------------------------ */

struct walk {
	PGconn *conn;
	PGresult *batch; /* rows fetched from the row cursor */
	int next, count;
	bool done;
	audit_problem_fn problem;
	void *arg;
	long long problems;
	char *err;
	size_t errlen;
};

static void report(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct walk *w, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	w->problems++;
	w->problem(w->arg, text);
}

/* The next row of the row cursor (NULL at the end); sets *row. */
static const PGresult *next_row(struct walk *w, int *row, bool *failed)
{
	if (w->next == w->count && !w->done) {
		PQclear(w->batch);
		w->batch = NULL;
		if (!run(w->conn, "FETCH 2000 FROM audit_rows", 0, NULL, PGRES_TUPLES_OK, &w->batch,
		         w->err, w->errlen)) {
			*failed = true;
			return NULL;
		}
		w->next = 0;
		w->count = PQntuples(w->batch);
		w->done = w->count == 0;
	}
	if (w->next == w->count)
		return NULL;
	*row = w->next;
	return w->batch;
}

struct entry {
	long long id;
	unsigned char hash[32];
};

static int by_id(const void *a, const void *b)
{
	long long x = ((const struct entry *)a)->id, y = ((const struct entry *)b)->id;

	return (x > y) - (x < y);
}

static bool hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (unsigned char)v;
	}
	return true;
}

/* Compares what seal id lists with the rows now in its range. */
static void compare_rows(struct walk *w, long long seal, struct entry *listed, size_t nlisted,
                         struct entry *found, size_t nfound)
{
	size_t i = 0, j = 0;

	qsort(listed, nlisted, sizeof(*listed), by_id);
	qsort(found, nfound, sizeof(*found), by_id);
	while (i < nlisted || j < nfound) {
		if (j == nfound || (i < nlisted && listed[i].id < found[j].id)) {
			report(w, "row %lld (sealed in seal %lld) was removed", listed[i].id, seal);
			i++;
		} else if (i == nlisted || found[j].id < listed[i].id) {
			report(w, "row %lld was inserted into the range of seal %lld after sealing",
			       found[j].id, seal);
			j++;
		} else {
			if (memcmp(listed[i].hash, found[j].hash, 32) != 0)
				report(w, "row %lld was changed after sealing (seal %lld)",
				       listed[i].id, seal);
			i++;
			j++;
		}
	}
}

/* Checks one seal row (of the seal cursor) and the rows in its range. */
static bool verify_seal(struct walk *w, const PGresult *s, int r, const struct config_jwt_key *keys,
                        size_t key_count, long long *expect_id, long long *prev_to, char prev[65])
{
	long long id = atoll(PQgetvalue(s, r, 0)), from = atoll(PQgetvalue(s, r, 1)),
	          to = atoll(PQgetvalue(s, r, 2));
	const char *ids = PQgetvalue(s, r, 3), *hashes = PQgetvalue(s, r, 4);
	const struct config_jwt_key *key = NULL;
	size_t nlisted = strlen(hashes) / 64, nfound = 0, cap = nlisted + 16;
	struct entry *listed = calloc(nlisted + 1, sizeof(*listed));
	struct entry *found = malloc(cap * sizeof(*found));
	unsigned char *raw = malloc(nlisted * 32 + 1);
	char mac[AUDIT_SEAL_MAC_HEX + 1];
	const PGresult *b;
	bool failed = false;
	int row;

	if (listed == NULL || found == NULL || raw == NULL) {
		snprintf(w->err, w->errlen, "out of memory");
		failed = true;
		goto out;
	}
	if (id != *expect_id)
		report(w, "seal %lld is missing (the next one found is seal %lld)", *expect_id, id);
	if (from != *prev_to)
		report(w, "seal %lld does not start where the seal before it ended", id);
	if (strcmp(PQgetvalue(s, r, 5), prev) != 0)
		report(w, "seal %lld does not link to the seal before it", id);
	for (size_t k = 0; k < key_count; k++)
		if (strcmp(keys[k].kid, PQgetvalue(s, r, 6)) == 0)
			key = &keys[k];
	if (!hex_to_bytes(hashes, raw, nlisted * 32)) {
		report(w, "seal %lld has unreadable row hashes", id);
	} else if (key == NULL) {
		report(w, "seal %lld names key '%s', which the configuration does not have", id,
		       PQgetvalue(s, r, 6));
	} else {
		audit_seal_mac(key, id, from, to, (long long)nlisted, raw, PQgetvalue(s, r, 5),
		               mac);
		if (strcmp(mac, PQgetvalue(s, r, 7)) != 0)
			report(w,
			       "seal %lld does not match its MAC (the seal was forged or changed)",
			       id);
	}
	for (size_t k = 0; k < nlisted; k++) {
		listed[k].id = strtoll(ids, (char **)&ids, 10);
		ids += *ids == ',';
		memcpy(listed[k].hash, raw + 32 * k, 32);
	}
	while ((b = next_row(w, &row, &failed)) != NULL && atoll(PQgetvalue(b, row, 1)) < to) {
		if (nfound == cap) {
			struct entry *grown = realloc(found, 2 * cap * sizeof(*found));

			if (grown == NULL) {
				failed = true;
				break;
			}
			found = grown;
			cap *= 2;
		}
		found[nfound].id = atoll(PQgetvalue(b, row, 0));
		row_hash(b, row, found[nfound].hash);
		nfound++;
		w->next++;
	}
	if (!failed)
		compare_rows(w, id, listed, nlisted, found, nfound);
	*expect_id = id + 1;
	*prev_to = to;
	snprintf(prev, 65, "%s", PQgetvalue(s, r, 7));
out:
	free(listed);
	free(found);
	free(raw);
	return !failed;
}

int audit_seal_verify(PGconn *conn, const struct config_jwt_key *keys, size_t count,
                      const char *legacy_head, struct audit_seal_report *rep,
                      audit_problem_fn problem, void *arg, char *err, size_t errlen)
{
	struct walk w = {
	    .conn = conn, .problem = problem, .arg = arg, .err = err, .errlen = errlen};
	long long expect_id = 1, prev_to = 0;
	char prev[65];
	PGresult *seals = NULL, *tail = NULL;
	char to_text[24];
	const char *params[1] = {to_text};
	bool ok;

	memset(rep, 0, sizeof(*rep));
	snprintf(prev, sizeof(prev), "%s", legacy_head);
	ok = command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) &&
	     command(conn,
	             "DECLARE audit_seal_rows NO SCROLL CURSOR FOR SELECT id, from_txid, to_txid, "
	             "array_to_string(row_ids, ','), encode(row_hashes, 'hex'), prev_mac, key_id, "
	             "mac FROM audit_seals ORDER BY id",
	             err, errlen) &&
	     command(conn,
	             "DECLARE audit_rows NO SCROLL CURSOR FOR SELECT " ROW_COLUMNS
	             " FROM audit_log WHERE txid IS NOT NULL ORDER BY txid, id",
	             err, errlen);
	while (ok) {
		int n;

		PQclear(seals);
		seals = NULL;
		ok = run(conn, "FETCH 100 FROM audit_seal_rows", 0, NULL, PGRES_TUPLES_OK, &seals,
		         err, errlen);
		n = ok ? PQntuples(seals) : 0;
		if (n == 0)
			break;
		for (int r = 0; ok && r < n; r++) {
			ok = verify_seal(&w, seals, r, keys, count, &expect_id, &prev_to, prev);
			rep->seals++;
			rep->sealed_rows += (long long)strlen(PQgetvalue(seals, r, 4)) / 64;
		}
	}
	PQclear(seals);
	PQclear(w.batch);
	snprintf(to_text, sizeof(to_text), "%lld", prev_to);
	/* What the sealer has not reached yet: rows of newer transactions. */
	if (ok)
		ok = run(
		    conn,
		    "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(at)), "
		    "0) FROM audit_log WHERE txid >= $1",
		    1, params, PGRES_TUPLES_OK, &tail, err, errlen);
	if (ok) {
		rep->unsealed_rows = atoll(PQgetvalue(tail, 0, 0));
		rep->unsealed_seconds = atof(PQgetvalue(tail, 0, 1));
		PQclear(tail);
	}
	PQclear(PQexec(conn, "ROLLBACK"));
	snprintf(rep->head, sizeof(rep->head), "%s", prev);
	rep->problems = w.problems;
	if (!ok)
		return -1;
	return w.problems > 0 ? 1 : 0;
}
