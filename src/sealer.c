/*
 * sealer.c - the audit sealer's loop (see include/hms/sealer.h).
 *
 * Each pass seals what has committed since the last seal; an empty pass
 * writes nothing. Every seal's MAC is also logged, so that a copy of the
 * chain's head lives outside the database (journald, a log shipper): a
 * rewrite of both tables by a database superuser cannot rewrite those.
 * A failed pass (PostgreSQL restarting, say) is retried on the next tick
 * with a fresh connection. Every housekeeping_interval_seconds the same
 * loop prunes the tables that would otherwise only grow (housekeeping()).
 */
#include "hms/sealer.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "hms/arena.h"
#include "hms/audit_seal.h"
#include "hms/backoff.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/idempotency.h"
#include "hms/log.h"
#include "hms/sandbox.h"
#include "hms/tokens.h"

static volatile sig_atomic_t stop_requested;

static void on_terminate(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	/* SIGTERM interrupts the sleep; the loop then ends. */
	nanosleep(&ts, NULL);
}

/* Housekeeping, every housekeeping_interval_seconds: the tables that would
 * otherwise only grow. Here rather than in a cron job or systemd timer
 * because this process already runs wherever hms runs, supervised, with a
 * connection and a periodic loop; with several hosts each prunes, and the
 * DELETEs are idempotent. Errors wait for the next pass. */
static void housekeeping(struct db *db, struct arena *arena)
{
	long counters = backoff_prune(db, arena);
	long tokens = tokens_prune(db, arena);
	long keys = idempotency_prune(db, arena);

	arena_reset(arena);
	if (counters < 0 || tokens < 0 || keys < 0) {
		log_event(LOG_WARN, "housekeeping_failed", LOG_END);
		db_end_request(db);
		return;
	}
	if (counters > 0 || tokens > 0 || keys > 0)
		log_event(LOG_INFO, "housekeeping", "l:login_failures", (long long)counters,
		          "l:refresh_tokens", (long long)tokens, "l:idempotency_keys",
		          (long long)keys, LOG_END);
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sealer_run(const struct hms_config *cfg)
{
	struct arena *arena;
	long long next_housekeeping = 0;
	struct sigaction sa;
	struct db *db;
	long long seals = 0, failures = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_terminate;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Named apart from the workers in ps and /proc. */
	prctl(PR_SET_NAME, "hms-sealer");
	if (getppid() == 1)
		return 0;
	db = db_new(cfg->database_url);
	arena = arena_new(64 * 1024, 0);
	if (db == NULL || arena == NULL) {
		log_event(LOG_ERROR, "sealer_init_failed", LOG_END);
		db_free(db);
		arena_free(arena);
		return 1;
	}
	{
		/* The workers' allow-list: the sealer only talks to PostgreSQL. */
		char err[256];

		if (sandbox_install_filter(err, sizeof(err)) < 0) {
			log_event(LOG_ERROR, "sealer_sandbox_failed", "s:reason", err, LOG_END);
			db_free(db);
			return 1;
		}
	}
	log_event(LOG_INFO, "sealer_started", "i:interval_ms", (int)cfg->audit_seal_interval_ms,
	          LOG_END);
	while (!stop_requested) {
		struct audit_seal_result seal = {0};
		char err[256];
		int rc = -1;

		if (db_ensure(db) == HMS_OK)
			rc = audit_seal_pass(db_conn(db), &cfg->seal[0], &seal, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "database unavailable");
		if (rc == 0 && seal.seal_id > 0) {
			seals++;
			log_event(LOG_INFO, "audit_sealed", "l:seal", seal.seal_id, "l:rows",
			          seal.rows, "s:mac", seal.mac, LOG_END);
		} else if (rc != 0) {
			failures++;
			log_event(LOG_WARN, "audit_seal_failed", "s:reason", err, LOG_END);
			db_end_request(db); /* the next pass checks the connection */
		}
		if (monotonic_ms() >= next_housekeeping && db_ensure(db) == HMS_OK) {
			housekeeping(db, arena);
			next_housekeeping =
			    monotonic_ms() + cfg->housekeeping_interval_seconds * 1000;
		}
		/* A full batch means a backlog: go on at once. */
		if (rc != 0 || seal.rows < AUDIT_SEAL_MAX_ROWS)
			sleep_ms(cfg->audit_seal_interval_ms);
	}
	db_free(db);
	arena_free(arena);
	log_event(LOG_INFO, "sealer_stopped", "l:seals", seals, "l:failures", failures, LOG_END);
	return 0;
}
