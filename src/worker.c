/*
 * worker.c - a pre-forked worker's accept loop.
 *
 * SIGTERM is blocked except while the worker waits in ppoll(), so it can
 * only arrive between requests: a stopping or reloading master never cuts a
 * request short. The listening socket is non-blocking; when several idle
 * workers wake for one connection, the losers get EAGAIN from
 * FCGX_Accept_r and go back to waiting instead of blocking in accept().
 *
 * The worker accepts connections itself and hands each to libfcgi
 * (accept_connection), so that a TCP peer that is not on
 * fastcgi_allowed_peers is closed before libfcgi parses a byte of it.
 * libfcgi's own check (FCGI_WEB_SERVER_ADDRS, in Debian 12's 2.4.2) covers
 * IPv4 only: an IPv6 peer, or an IPv4 one on a dual-stack listener
 * (::ffff:a.b.c.d), is let through unchecked and gets no TCP_NODELAY.
 */
#include "hms/worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hms/app.h"
#include "hms/arena.h"
#include "hms/auth.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/log.h"
#include "hms/netaddr.h"
#include "hms/password.h"
#include "hms/router.h"
#include "hms/sandbox.h"

/* Room for request metadata and parsed JSON beyond the body itself. */
#define ARENA_BLOCK_BYTES    (64 * 1024)
#define ARENA_OVERHEAD_BYTES (32 * 1024 * 1024)

/* How long a TCP peer may stay silent mid-request, or not read the answer.
 * nginx buffers the whole request before it connects and reads answers at
 * once; a longer silence means its machine or the network is gone, and a
 * unix socket's peer cannot vanish without the kernel closing it. */
#define PEER_TIMEOUT_SECONDS 60
/* At most one fastcgi_peer_refused line per this many seconds. */
#define REFUSED_LOG_SECONDS 10

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

/* Logs a refused peer, at most one line per REFUSED_LOG_SECONDS with the
 * count since the last: a scanner must not flood the log. */
static void log_refused_peer(const struct sockaddr *peer)
{
	static time_t last_logged;
	static int unlogged;
	char where[NETADDR_TEXT_MAX];
	time_t now = time(NULL);

	unlogged++;
	if (last_logged != 0 && now - last_logged < REFUSED_LOG_SECONDS)
		return;
	netaddr_format(peer, where, sizeof(where));
	log_event(LOG_WARN, "fastcgi_peer_refused", "s:peer", where, "i:refused", unlogged,
	          "s:reason", "not in fastcgi_allowed_peers", LOG_END);
	last_logged = now;
	unlogged = 0;
}

/* The next connection, or a negative errno (-EAGAIN: another worker took
 * it; -ECONNABORTED: it left, or was refused here). A TCP peer must be on
 * the allow-list; its connection gets TCP_NODELAY (an answer is several
 * FastCGI records: with Nagle's algorithm and nginx's delayed ACK the last
 * would wait ~40 ms) and the timeouts above. */
static int accept_connection(const struct hms_config *cfg, int listen_fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	int one = 1;
	struct timeval timeout = {PEER_TIMEOUT_SECONDS, 0};

	if (fd < 0)
		return -errno;
	if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)
		return fd; /* the unix socket: its file mode is the check */
	if (!netaddr_peer_allowed(cfg->peers, cfg->peer_count, (struct sockaddr *)&peer)) {
		log_refused_peer((struct sockaddr *)&peer);
		close(fd);
		return -ECONNABORTED;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	return fd;
}

/* accept() errors that concern one connection, not the socket: Linux
 * reports a pending network error of the new connection through accept()
 * (accept(2)), and the connection is then gone; the next one is fine. */
static bool accept_error_is_transient(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ECONNABORTED:
	case ECONNRESET:
	case EPROTO:
	case ETIMEDOUT:
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENONET:
	case ENOPROTOOPT:
	case EOPNOTSUPP:
		return true;
	default:
		return false;
	}
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
	/* No listening socket for libfcgi: it gets connections from
	 * accept_connection only (with none, its own accept fails with
	 * EBADF rather than take an unchecked one). */
	if (arena == NULL || db == NULL || FCGX_Init() != 0 || FCGX_InitRequest(&fr, -1, 0) != 0) {
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
		/* The listening socket, or a connection nginx keeps open for its
		 * next request (FCGI_KEEP_CONN; the shipped site does not). */
		struct pollfd pfd = {.fd = fr.ipcFd >= 0 ? fr.ipcFd : listen_fd, .events = POLLIN};
		int rc = ppoll(&pfd, 1, NULL, &wait_mask);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_event(LOG_ERROR, "worker_poll_failed", "i:errno", errno, LOG_END);
			break;
		}
		if (fr.ipcFd < 0) {
			int fd = accept_connection(cfg, listen_fd);

			if (fd < 0 && accept_error_is_transient(-fd))
				continue; /* another worker took it, or the client left */
			if (fd < 0) {
				log_event(LOG_ERROR, "worker_accept_failed", "i:error", -fd,
				          LOG_END);
				break;
			}
			fr.ipcFd = fd;
			/* FCGX_Accept_r first finishes the previous request, which
			 * closes the connection unless it is to be kept: this one
			 * is. Its BEGIN_REQUEST record then sets the flag. */
			fr.keepConnection = 1;
		}
		/* Reads the request's parameters from fr.ipcFd (libfcgi accepts
		 * only when there is no connection). On a protocol error or a
		 * peer that left it closes the connection and, having no
		 * listening socket, returns an error: the next one is ours. */
		if (FCGX_Accept_r(&fr) < 0) {
			if (fr.ipcFd >= 0) {
				FCGX_Free(&fr, 1);
			}
			continue;
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
