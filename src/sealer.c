/*
 * sealer.c - the audit sealer's loop (see include/hms/sealer.h).
 *
 * Each pass seals what has committed since the last seal; an empty pass
 * writes nothing. Every seal's MAC is also logged, so that a copy of the
 * chain's head lives outside the database (journald, a log shipper): a
 * rewrite of both tables by a database superuser cannot rewrite those.
 * A failed pass (PostgreSQL restarting, say) is retried on the next tick
 * with a fresh connection.
 */
#include "hms/sealer.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "hms/audit_seal.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/log.h"
#include "hms/sandbox.h"

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

int sealer_run(const struct hms_config *cfg)
{
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
	if (db == NULL) {
		log_event(LOG_ERROR, "sealer_init_failed", LOG_END);
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
		/* A full batch means a backlog: go on at once. */
		if (rc != 0 || seal.rows < AUDIT_SEAL_MAX_ROWS)
			sleep_ms(cfg->audit_seal_interval_ms);
	}
	db_free(db);
	log_event(LOG_INFO, "sealer_stopped", "l:seals", seals, "l:failures", failures, LOG_END);
	return 0;
}
