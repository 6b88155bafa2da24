/*
 * worker.c - a pre-forked worker's accept loop.
 *
 * SIGTERM is blocked except while the worker waits in ppoll(), so it can
 * only arrive between requests: a stopping or reloading master never cuts a
 * request short. The listening socket is non-blocking; when several idle
 * workers wake for one connection, the losers get EAGAIN from
 * FCGX_Accept_r and go back to waiting instead of blocking in accept().
 */
#include "hms/worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "hms/app.h"
#include "hms/arena.h"
#include "hms/auth.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/log.h"
#include "hms/password.h"
#include "hms/router.h"
#include "hms/sandbox.h"

/* Room for request metadata and parsed JSON beyond the body itself. */
#define ARENA_BLOCK_BYTES    (64 * 1024)
#define ARENA_OVERHEAD_BYTES (32 * 1024 * 1024)

static volatile sig_atomic_t stop_requested;

static void on_terminate(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static long fcgi_read(void *source, char *buf, size_t len)
{
	int n = FCGX_GetStr(buf, len > 65536 ? 65536 : (int)len, source);

	return n < 0 ? -1 : n;
}

/* Reads and drops what the client sent beyond what we used, so nginx never
 * sees the connection close while it is still sending the body. */
static void drain_input(FCGX_Stream *in)
{
	char buf[8192];

	while (FCGX_GetStr(buf, sizeof(buf), in) > 0)
		;
}

static void write_response(FCGX_Stream *out, const struct http_request *req,
                           const struct http_response *res)
{
	FCGX_FPrintF(out, "Status: %d %s\r\n", res->status, http_status_reason(res->status));
	if (res->content_type != NULL)
		FCGX_FPrintF(out, "Content-Type: %s\r\n", res->content_type);
	FCGX_FPrintF(out, "X-Request-ID: %s\r\n", req->request_id);
	for (size_t i = 0; i < res->header_count; i++)
		FCGX_FPrintF(out, "%s: %s\r\n", res->headers[i].name, res->headers[i].value);
	FCGX_PutStr("\r\n", 2, out);
	if (res->body != NULL && res->body_len > 0)
		FCGX_PutStr(res->body, (int)res->body_len, out);
}

static const char *input_error_detail(enum hms_err err)
{
	if (err == HMS_ERR_BAD_REQUEST)
		return "Malformed request: the URL has an invalid percent-escape, a NUL byte or "
		       "invalid UTF-8.";
	return NULL;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void handle(FCGX_Request *fr, const struct hms_config *cfg, struct db *db,
                   struct arena *arena)
{
	struct http_request req;
	struct http_response res;
	struct timespec start;
	enum hms_err err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	http_response_init(&res, arena);
	err = http_request_parse(&req, arena, (const char *const *)fr->envp);
	req.db = db;
	req.config = cfg;
	req.body_read = fcgi_read;
	req.body_source = fr->in;
	if (err != HMS_OK)
		http_respond_error(&res, err, input_error_detail(err));
	else
		app_dispatch(&req, &res, hms_routes, hms_route_count);

	db_end_request(db);
	drain_input(fr->in);
	write_response(fr->out, &req, &res);

	/* The route pattern, never the path: paths and queries can hold PHI.
	 * user_id is the authenticated account, 0 for an anonymous request
	 * (a login, the health check, one refused before authentication). At
	 * debug only: nginx's access log already has a line per request, and
	 * journald would get one per request too (conf/hms.conf.example). */
	log_event(res.status >= 500 ? LOG_WARN : LOG_DEBUG, "request", "s:request_id",
	          req.request_id, "s:method", req.method != NULL ? req.method : "-", "s:route",
	          req.route != NULL ? req.route->pattern : "-", "i:status", res.status,
	          "f:duration_ms", elapsed_ms(&start), "l:user_id",
	          (long long)(req.user.authenticated ? req.user.id : 0), LOG_END);
}

int worker_run(const struct hms_config *cfg, int listen_fd)
{
	struct sigaction sa;
	sigset_t block, wait_mask;
	FCGX_Request fr;
	struct arena *arena;
	struct db *db;
	unsigned long served = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_terminate; /* no SA_RESTART: ppoll must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN; /* the master decides on Ctrl-C and reloads */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(&wait_mask);

	/* A fixed mmap threshold: big transient buffers (argon2id's 19 MiB,
	 * large bodies) are mapped and returned to the system when freed.
	 * glibc's default raises the threshold after the first such free, and
	 * the next one would then stay in the heap and in the worker's RSS. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	/* A worker never outlives its master. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;

	/* Twice the body limit: a body without Content-Length is read into a
	 * buffer that doubles, and the smaller copies stay until the reset. */
	arena =
	    arena_new(ARENA_BLOCK_BYTES, 2 * (size_t)cfg->max_body_bytes + ARENA_OVERHEAD_BYTES);
	db = db_new(cfg->database_url);
	if (arena == NULL || db == NULL || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		log_event(LOG_ERROR, "worker_init_failed", LOG_END);
		arena_free(arena);
		db_free(db);
		return 1;
	}
	/* Local dates ("not in the future") are the hospital's. Logs use UTC
	 * explicitly, so they are unaffected. */
	setenv("TZ", cfg->time_zone, 1);
	tzset();
	db_set_time_zone(db, cfg->time_zone);
	db_set_statement_timeout(db, cfg->statement_timeout_ms);
	auth_init(db);
	{
		/* The dummy hash for unknown usernames, now rather than on the
		 * first such login, which would then cost twice a real one. */
		struct password_cost cost = password_cost_from_config(cfg);

		if (password_init(&cost) != 0)
			log_event(LOG_WARN, "password_dummy_failed", LOG_END);
	}
	/* From here on, only the system calls serving requests needs. */
	{
		char err[256];
		int sandboxed = sandbox_install_filter(err, sizeof(err));

		if (sandboxed < 0) {
			log_event(LOG_ERROR, "worker_sandbox_failed", "s:reason", err, LOG_END);
			FCGX_Free(&fr, 1);
			db_free(db);
			arena_free(arena);
			return 1;
		}
		log_event(LOG_INFO, "worker_started", "s:seccomp", sandboxed == 0 ? "on" : "off",
		          LOG_END);
	}

	while (!stop_requested) {
		struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
		int rc = ppoll(&pfd, 1, NULL, &wait_mask);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_event(LOG_ERROR, "worker_poll_failed", "i:errno", errno, LOG_END);
			break;
		}
		rc = FCGX_Accept_r(&fr);
		if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -ECONNABORTED || rc == -EINTR)
			continue; /* another worker took it, or the client left */
		if (rc < 0) {
			log_event(LOG_ERROR, "worker_accept_failed", "i:error", -rc, LOG_END);
			break;
		}
		handle(&fr, cfg, db, arena);
		FCGX_Finish_r(&fr);
		arena_reset(arena);
		served++;
	}

	FCGX_Free(&fr, 1);
	db_free(db);
	arena_free(arena);
	log_event(LOG_INFO, "worker_stopped", "l:requests", (long long)served, LOG_END);
	return stop_requested ? 0 : 1;
}
