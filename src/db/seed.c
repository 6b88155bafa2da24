/*
 * seed.c - demo data through COPY (see include/hms/seed.h). Names include
 * accented and hyphenated ones so search can be tried on realistic text.
 * The generator is a fixed xorshift, so a given seed gives the same data.
 */
#include "hms/seed.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define COPY_BATCH_BYTES (256 * 1024)

static const char *const first_names[] = {
    "Mary",  "John",   "Aisha",  "José",      "Zoë",     "Peter",  "Grace",   "Amina",
    "David", "Sarah",  "Joseph", "Fatuma",    "Moses",   "Ruth",   "Isaac",   "Esther",
    "Björn", "Chloé",  "Kwame",  "Nakato",    "Babirye", "Okello", "Achieng", "Wanjiru",
    "Juan",  "Amélie", "Ngozi",  "Mary-Jane", "Ibrahim", "Léa",    "Tendai",  "Samuel",
};
static const char *const last_names[] = {
    "Kintu",   "Okello",       "Mukasa",   "Nambi",     "Müller", "García",  "Ssempala",
    "Achieng", "Odhiambo",     "Kamau",    "Nakamura",  "Dubois", "Okafor",  "Mensah",
    "Banda",   "Phiri",        "Nalwoga",  "Lutalo",    "Smith",  "Johnson", "Owino",
    "Kato",    "Wasswa",       "Babirye",  "Ouédraogo", "Ndlovu", "Mwangi",  "Otieno",
    "O'Brien", "Van der Berg", "Nyambura", "Tumusiime",
};
static const char *const genders[] = {"female", "male", "other", "unknown"};
static const char *const specialties[] = {
    "Cardiology", "Pediatrics",        "General Surgery", "Obstetrics",  "Radiology",
    "Oncology",   "Internal Medicine", "Orthopedics",     "Dermatology", "Psychiatry",
};

struct rng {
	unsigned long long state;
};

static unsigned long long next_random(struct rng *r)
{
	r->state ^= r->state << 13;
	r->state ^= r->state >> 7;
	r->state ^= r->state << 17;
	return r->state;
}

static unsigned pick(struct rng *r, unsigned n)
{
	return (unsigned)(next_random(r) % n);
}

static void progress(const char *what, long done, long total, bool tty)
{
	int width = 30;
	int filled = total > 0 ? (int)(done * width / total) : width;

	if (!tty)
		return;
	printf("\r%-9s [%.*s%.*s] %3ld%% %ld/%ld", what, filled, "##############################",
	       width - filled, "------------------------------",
	       total > 0 ? done * 100 / total : 100, done, total);
	fflush(stdout);
}

/* Runs COPY with rows produced by make_row into a batch buffer, then
 * vacuums tables (the loaded one and what its triggers filled). */
static int copy_rows(PGconn *conn, const char *copy_sql, const char *what, const char *tables,
                     long count, struct rng *r,
                     int (*make_row)(char *buf, size_t size, struct rng *r, long i), char *err,
                     size_t errlen)
{
	static char batch[COPY_BATCH_BYTES];
	bool tty = isatty(STDOUT_FILENO);
	size_t used = 0;
	PGresult *res;

	res = PQexec(conn, "BEGIN");
	PQclear(res);
	res = PQexec(conn, copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	PQclear(res);
	for (long i = 0; i < count; i++) {
		char row[1024];
		int n = make_row(row, sizeof(row), r, i);

		if (n <= 0 || (size_t)n >= sizeof(row))
			continue;
		if (used + (size_t)n > sizeof(batch)) {
			if (PQputCopyData(conn, batch, (int)used) != 1)
				break;
			used = 0;
		}
		memcpy(batch + used, row, (size_t)n);
		used += (size_t)n;
		if (i % 10000 == 0)
			progress(what, i, count, tty);
	}
	if (used > 0)
		PQputCopyData(conn, batch, (int)used);
	PQputCopyEnd(conn, NULL);
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	PQclear(res);
	res = PQexec(conn, "COMMIT");
	PQclear(res);
	/* Fresh statistics for the planner and a visibility map, so counts can
	 * skip the heap: without this the first minutes after a bulk load run
	 * on plans made for an empty table. */
	{
		char sql[96];

		snprintf(sql, sizeof(sql), "VACUUM (ANALYZE) %s", tables);
		res = PQexec(conn, sql);
		PQclear(res);
	}
	progress(what, count, count, tty);
	if (tty)
		printf("\n");
	return 0;
}

static int patient_row(char *buf, size_t size, struct rng *r, long i)
{
	const char *first = first_names[pick(r, sizeof(first_names) / sizeof(first_names[0]))];
	const char *last = last_names[pick(r, sizeof(last_names) / sizeof(last_names[0]))];
	unsigned year = 1930 + pick(r, 95), month = 1 + pick(r, 12), day = 1 + pick(r, 28);
	char email[160] = "";

	if (pick(r, 10) < 3) {
		snprintf(email, sizeof(email), "patient%ld@example.org", i + 1);
	}
	/* COPY text format: tab-separated, no tabs/newlines/backslashes in data. */
	return snprintf(buf, size, "%s\t%s\t%04u-%02u-%02u\t%s\t+2567%08ld\t%s\tPlot %u, Kampala\n",
	                first, last, year, month, day, genders[pick(r, 4)], i + 1, email,
	                1 + pick(r, 999));
}

static int doctor_row(char *buf, size_t size, struct rng *r, long i)
{
	const char *first = first_names[pick(r, sizeof(first_names) / sizeof(first_names[0]))];
	const char *last = last_names[pick(r, sizeof(last_names) / sizeof(last_names[0]))];
	unsigned s1 = pick(r, 10), s2 = (s1 + 1 + pick(r, 9)) % 10;

	return snprintf(buf, size,
	                "%s\t%s\t{\"%s\",\"%s\"}\tSEED-%06ld-%04u\t%d\t"
	                "[{\"weekday\": 0, \"start_time\": \"08:00\", \"end_time\": \"17:00\"}, "
	                "{\"weekday\": 1, \"start_time\": \"08:00\", \"end_time\": \"17:00\"}, "
	                "{\"weekday\": 2, \"start_time\": \"08:00\", \"end_time\": \"17:00\"}, "
	                "{\"weekday\": 3, \"start_time\": \"08:00\", \"end_time\": \"17:00\"}, "
	                "{\"weekday\": 4, \"start_time\": \"08:00\", \"end_time\": \"13:00\"}]\n",
	                first, last, specialties[s1], specialties[s2], i + 1, pick(r, 10000),
	                pick(r, 2) ? 30 : 20);
}

int seed_patients(PGconn *conn, long count, unsigned long long random_seed, char *err,
                  size_t errlen)
{
	struct rng r = {random_seed != 0 ? random_seed : 88172645463325252ULL};

	return copy_rows(conn,
	                 "COPY patients (first_name, last_name, date_of_birth, gender, "
	                 "contact_phone, contact_email, address) FROM STDIN",
	                 "patients", "patients, patient_name_words", count, &r, patient_row, err,
	                 errlen);
}

int seed_doctors(PGconn *conn, long count, unsigned long long random_seed, char *err, size_t errlen)
{
	struct rng r = {(random_seed != 0 ? random_seed : 88172645463325252ULL) ^ 0x9e3779b9ULL};

	return copy_rows(conn,
	                 "COPY doctors (first_name, last_name, specialties, license_number, "
	                 "slot_minutes, schedule) FROM STDIN",
	                 "doctors", "doctors", count, &r, doctor_row, err, errlen);
}
