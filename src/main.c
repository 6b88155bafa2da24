/*
 * main.c - the hms master process.
 *
 * Reads and validates the configuration, opens the FastCGI socket (the unix
 * socket_path, or TCP on listen_address for nginx on another machine),
 * pre-forks the workers and the audit sealer (sealer.h) and supervises
 * them:
 *   - a worker that dies is replaced; one that dies soon after starting is
 *     replaced after a growing delay, so a broken build cannot fork-bomb;
 *   - SIGHUP re-reads the configuration and starts a new generation of
 *     workers, while the old ones finish their current request and exit
 *     (the socket never closes, so no connection is refused); when a new
 *     binary has been installed at the master's path, the master first
 *     execs it, handing over the open socket and the old workers, so an
 *     upgrade is "install, hmsctl migrate, SIGHUP" and drops nothing;
 *   - SIGTERM/SIGINT stop the workers after their in-flight request, waiting
 *     at most shutdown_timeout_seconds before SIGKILL.
 * All signals are blocked and taken synchronously with sigtimedwait(), so
 * there is no handler code and no race between a signal and the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hms/config.h"
#include "hms/file_store.h"
#include "hms/log.h"
#include "hms/netaddr.h"
#include "hms/sandbox.h"
#include "hms/sealer.h"
#include "hms/worker.h"

#define MAX_WORKERS         256
#define MAX_RETIRING        (4 * (MAX_WORKERS + 1))
#define QUICK_DEATH_SECONDS 2.0
#define MAX_BACKOFF_SECONDS 30.0

struct worker_slot {
	bool is_sealer;    /* the audit sealer (sealer.h), not a worker */
	pid_t pid;         /* 0 = waiting to be (re)started */
	double started_at; /* monotonic seconds */
	double restart_at;
	int quick_deaths;
};

struct master {
	struct hms_config cfg;
	const char *config_path;
	/* The binary this master runs, to notice an upgrade installed there:
	 * its path (as started, made absolute) and the file it was. */
	char exe_path[4096];
	dev_t exe_dev;
	ino_t exe_ino;
	char **argv;
	int listen_fd;
	bool listen_is_tcp; /* what listen_fd is, whatever the configuration says now */
	struct worker_slot slots[MAX_WORKERS + 1]; /* the workers, then the sealer */
	long slot_count;
	pid_t retiring[MAX_RETIRING]; /* old generation, finishing their request */
	size_t retiring_count;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* TCP on listen_address. SO_REUSEADDR: a restart binds again at once, even
 * with the previous master's connections in TIME_WAIT (it never lets a
 * second live listener share the port: that would be SO_REUSEPORT).
 * TCP_NODELAY here too, although each worker sets it on what it accepts:
 * a response is written in several FastCGI records, and Nagle's algorithm
 * with nginx's delayed ACK would hold the last of them for ~40 ms. */
static int open_tcp_socket(const struct hms_config *cfg, char *err, size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen_sockaddr;
	int one = 1;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, sa, cfg->listen_sockaddr_len) != 0 ||
	    listen(fd, (int)cfg->listen_backlog) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s (listen_address): %s", cfg->listen_address,
	         strerror(errno));
	return -1;
}

static int open_socket(const struct hms_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	int fd;

	if (config_listens_on_tcp(cfg))
		return open_tcp_socket(cfg, err, errlen);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", cfg->socket_path);

	/* A live socket at the path means another master is running there. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		snprintf(err, errlen, "another process is already serving %s", cfg->socket_path);
		return -1;
	}
	close(fd);
	unlink(cfg->socket_path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(cfg->socket_path, (mode_t)cfg->socket_mode) != 0)
		goto fail_close;
	if (cfg->socket_group != NULL && *cfg->socket_group != '\0') {
		struct group *g = getgrnam(cfg->socket_group);

		if (g == NULL || chown(cfg->socket_path, (uid_t)-1, g->gr_gid) != 0)
			goto fail_close;
	}
	if (listen(fd, (int)cfg->listen_backlog) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		goto fail_close;
	return fd;
fail_close:
	close(fd);
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", cfg->socket_path, strerror(errno));
	return -1;
}

static pid_t spawn_worker(struct master *m, bool is_sealer)
{
	pid_t pid = fork();

	if (pid == 0) {
		char err[CONFIG_ERROR_MAX];
		int status;

		log_init((enum log_level)log_level_parse(m->cfg.log_level),
		         is_sealer ? "sealer" : "worker");
		/* Started as root: the workers and the sealer are worker_user
		 * before they read a request or open a connection. */
		if (sandbox_drop_privileges(m->cfg.worker_user, err, sizeof(err)) != 0) {
			log_event(LOG_ERROR, "privilege_drop_failed", "s:reason", err, LOG_END);
			config_free(&m->cfg);
			_exit(1);
		}
		if (is_sealer) {
			close(m->listen_fd); /* it serves no requests */
			status = sealer_run(&m->cfg);
		} else {
			status = worker_run(&m->cfg, m->listen_fd);
		}
		config_free(&m->cfg);
		exit(status);
	}
	if (pid < 0)
		log_event(LOG_ERROR, "worker_fork_failed", "i:errno", errno, LOG_END);
	else
		log_event(LOG_INFO, is_sealer ? "sealer_spawned" : "worker_spawned", "i:worker_pid",
		          (int)pid, LOG_END);
	return pid;
}

/* count workers and, after them, the sealer. */
static void set_slots(struct master *m, long count)
{
	if (count > MAX_WORKERS)
		count = MAX_WORKERS;
	memset(m->slots, 0, sizeof(m->slots));
	m->slot_count = count + 1;
	m->slots[count].is_sealer = true;
}

static void start_slot(struct master *m, struct worker_slot *slot)
{
	pid_t pid = spawn_worker(m, slot->is_sealer);

	if (pid < 0) {
		slot->pid = 0;
		slot->restart_at = now_seconds() + 1.0;
		return;
	}
	slot->pid = pid;
	slot->started_at = now_seconds();
	slot->restart_at = 0;
}

static void describe_exit(int status, const char **how, int *code)
{
	if (WIFSIGNALED(status)) {
		*how = "signal";
		*code = WTERMSIG(status);
	} else {
		*how = "exit";
		*code = WEXITSTATUS(status);
	}
}

static bool forget_retiring(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->retiring_count; i++) {
		if (m->retiring[i] == pid) {
			m->retiring[i] = m->retiring[--m->retiring_count];
			return true;
		}
	}
	return false;
}

static void reap(struct master *m, bool stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		const char *how;
		int code;

		describe_exit(status, &how, &code);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			/* It may have died mid-upload. */
			int swept = file_store_sweep_worker(m->cfg.attachment_dir,
			                                    m->cfg.instance_name, (long)pid);

			if (swept > 0)
				log_event(LOG_INFO, "attachment_temp_files_removed", "i:worker_pid",
				          (int)pid, "i:count", swept, LOG_END);
		}
		if (forget_retiring(m, pid)) {
			log_event(LOG_INFO, "worker_retired", "i:worker_pid", (int)pid, LOG_END);
			continue;
		}
		for (long i = 0; i < m->slot_count; i++) {
			struct worker_slot *slot = &m->slots[i];
			double lived;
			double delay = 0;

			if (slot->pid != pid)
				continue;
			slot->pid = 0;
			if (stopping) {
				log_event(LOG_INFO, "worker_stopped", "i:worker_pid", (int)pid,
				          LOG_END);
				break;
			}
			lived = now_seconds() - slot->started_at;
			if (lived < QUICK_DEATH_SECONDS) {
				slot->quick_deaths++;
				delay =
				    0.1 * (double)(1 << (slot->quick_deaths < 9 ? slot->quick_deaths
				                                                : 9));
				if (delay > MAX_BACKOFF_SECONDS)
					delay = MAX_BACKOFF_SECONDS;
			} else {
				slot->quick_deaths = 0;
			}
			slot->restart_at = now_seconds() + delay;
			log_event(LOG_WARN, "worker_died", "i:worker_pid", (int)pid, "s:how", how,
			          "i:code", code, "f:restart_in_seconds", delay, LOG_END);
			break;
		}
	}
}

static void restart_due(struct master *m)
{
	double now = now_seconds();

	for (long i = 0; i < m->slot_count; i++)
		if (m->slots[i].pid == 0 && m->slots[i].restart_at <= now)
			start_slot(m, &m->slots[i]);
}

/* Seconds until the next pending restart, at most one. */
static double next_wakeup(const struct master *m)
{
	double wait = 1.0;
	double now = now_seconds();

	for (long i = 0; i < m->slot_count; i++) {
		if (m->slots[i].pid == 0) {
			double in = m->slots[i].restart_at - now;

			if (in < wait)
				wait = in > 0 ? in : 0;
		}
	}
	return wait;
}

/* The environment that hands the socket and the old generation to the
 * master's next image (see upgrade()). */
#define ENV_LISTEN_FD "HMS_MASTER_LISTEN_FD"
#define ENV_RETIRING  "HMS_MASTER_RETIRING"

/* Whether the file at the master's path is another binary than the one
 * running (an upgrade was installed over it). */
static bool new_binary_installed(const struct master *m)
{
	struct stat st;

	return m->exe_path[0] != '\0' && stat(m->exe_path, &st) == 0 &&
	       (st.st_dev != m->exe_dev || st.st_ino != m->exe_ino);
}

/* Whether the new binary accepts the configuration: the master must not
 * exec into something that cannot start. */
static bool new_binary_starts(const struct master *m)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		sigset_t none;
		int devnull = open("/dev/null", O_WRONLY);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		if (m->config_path != NULL)
			execl(m->exe_path, m->exe_path, "--config", m->config_path,
			      "--check-config", (char *)NULL);
		else
			execl(m->exe_path, m->exe_path, "--check-config", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Execs the newly installed binary in place of this master: the same pid
 * (systemd and pid files stay right), the listening socket open across the
 * exec (connections wait in its backlog for a few milliseconds), and the
 * current workers passed on as the retiring generation, which the new image
 * stops gracefully and reaps. Returns only if the exec failed. */
static void upgrade(struct master *m)
{
	char fd_text[16], *pids;
	size_t len = 0, cap = 16 * (MAX_WORKERS + MAX_RETIRING + 2);

	pids = malloc(cap);
	if (pids == NULL)
		return;
	pids[0] = '\0';
	for (long i = 0; i < m->slot_count; i++)
		if (m->slots[i].pid > 0)
			len += (size_t)snprintf(pids + len, cap - len, "%s%d", len > 0 ? "," : "",
			                        (int)m->slots[i].pid);
	for (size_t i = 0; i < m->retiring_count; i++)
		len += (size_t)snprintf(pids + len, cap - len, "%s%d", len > 0 ? "," : "",
		                        (int)m->retiring[i]);
	snprintf(fd_text, sizeof(fd_text), "%d", m->listen_fd);
	fcntl(m->listen_fd, F_SETFD, 0); /* kept open across the exec */
	setenv(ENV_LISTEN_FD, fd_text, 1);
	setenv(ENV_RETIRING, pids, 1);
	free(pids);
	log_event(LOG_INFO, "upgrading", "s:binary", m->exe_path, LOG_END);
	execv(m->exe_path, m->argv);
	log_event(LOG_ERROR, "upgrade_failed", "i:errno", errno, LOG_END);
	fcntl(m->listen_fd, F_SETFD, FD_CLOEXEC);
	unsetenv(ENV_LISTEN_FD);
	unsetenv(ENV_RETIRING);
}

static void reload(struct master *m)
{
	struct hms_config fresh;
	char err[CONFIG_ERROR_MAX];
	long count;

	config_init(&fresh);
	if (config_load(&fresh, m->config_path, err, sizeof(err)) != 0 ||
	    config_validate(&fresh, CONFIG_FOR_SERVER, err, sizeof(err)) != 0) {
		log_event(LOG_ERROR, "reload_failed", "s:reason", err, LOG_END);
		config_free(&fresh);
		return;
	}
	/* The socket stays open: a configuration for the other kind of socket
	 * would leave the workers without the allow-list a TCP socket needs
	 * (or with one that means nothing), so it waits for a restart. */
	if (config_listens_on_tcp(&fresh) != m->listen_is_tcp) {
		log_event(LOG_ERROR, "reload_failed", "s:reason",
		          m->listen_is_tcp ? "listen_address was removed: moving from TCP to "
		                             "socket_path needs a restart; nothing changed"
		                           : "listen_address was set: moving from socket_path to "
		                             "TCP needs a restart; nothing changed",
		          LOG_END);
		config_free(&fresh);
		return;
	}
	if (!m->listen_is_tcp && strcmp(fresh.socket_path, m->cfg.socket_path) != 0)
		log_event(LOG_WARN, "reload_socket_unchanged", "s:reason",
		          "socket_path changes need a restart; keeping the open socket", LOG_END);
	if (m->listen_is_tcp && (m->cfg.listen_address == NULL ||
	                         strcmp(fresh.listen_address, m->cfg.listen_address) != 0))
		log_event(LOG_WARN, "reload_socket_unchanged", "s:reason",
		          "listen_address changes need a restart; keeping the open socket "
		          "(fastcgi_allowed_peers applies now)",
		          LOG_END);
	if (strcmp(fresh.instance_name, m->cfg.instance_name) != 0) {
		/* The reaper must find the files of workers started under the
		 * old name. */
		char *kept = strdup(m->cfg.instance_name);

		if (kept != NULL) {
			free(fresh.instance_name);
			fresh.instance_name = kept;
		}
		log_event(LOG_WARN, "reload_instance_name_unchanged", "s:reason",
		          "instance_name changes need a restart; keeping the running one", LOG_END);
	}
	count = config_worker_count(&fresh);
	if (new_binary_installed(m)) {
		if (new_binary_starts(m)) {
			config_free(&fresh);
			upgrade(m);
			config_init(&fresh); /* the exec failed: reload as this binary */
			config_load(&fresh, m->config_path, err, sizeof(err));
			config_validate(&fresh, CONFIG_FOR_SERVER, err, sizeof(err));
		} else {
			log_event(
			    LOG_ERROR, "upgrade_refused", "s:reason",
			    "the installed binary refuses the configuration (hms --check-config); "
			    "reloading the running one",
			    LOG_END);
		}
	}

	/* Retire the current generation; each finishes its request first. */
	for (long i = 0; i < m->slot_count; i++) {
		pid_t pid = m->slots[i].pid;

		if (pid > 0 && m->retiring_count < MAX_RETIRING) {
			m->retiring[m->retiring_count++] = pid;
			kill(pid, SIGTERM);
		}
	}
	config_free(&m->cfg);
	m->cfg = fresh;
	log_init((enum log_level)log_level_parse(m->cfg.log_level), "master");
	set_slots(m, count);
	for (long i = 0; i < m->slot_count; i++)
		start_slot(m, &m->slots[i]);
	log_event(LOG_INFO, "reloaded", "i:workers", (int)(m->slot_count - 1), LOG_END);
}

static size_t live_workers(const struct master *m)
{
	size_t n = m->retiring_count;

	for (long i = 0; i < m->slot_count; i++)
		n += m->slots[i].pid > 0;
	return n;
}

static void signal_all(const struct master *m, int sig)
{
	for (long i = 0; i < m->slot_count; i++)
		if (m->slots[i].pid > 0)
			kill(m->slots[i].pid, sig);
	for (size_t i = 0; i < m->retiring_count; i++)
		kill(m->retiring[i], sig);
}

static void shut_down(struct master *m, const sigset_t *set)
{
	double deadline = now_seconds() + (double)m->cfg.shutdown_timeout_seconds;

	log_event(LOG_INFO, "stopping", "i:workers", (int)live_workers(m), LOG_END);
	signal_all(m, SIGTERM);
	reap(m, true);
	while (live_workers(m) > 0 && now_seconds() < deadline) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		sigtimedwait(set, NULL, &ts);
		reap(m, true);
	}
	if (live_workers(m) > 0) {
		log_event(LOG_WARN, "stop_timeout_kill", "i:workers", (int)live_workers(m),
		          LOG_END);
		signal_all(m, SIGKILL);
		while (live_workers(m) > 0 && waitpid(-1, NULL, 0) > 0)
			reap(m, true);
		m->retiring_count = 0;
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: hms [--config FILE] [--check-config]\n"
	             "  --config FILE    key = value configuration (default: $HMS_CONFIG, else\n"
	             "                   /etc/hms/hms.conf, else conf/hms.conf)\n"
	             "  --check-config   validate the configuration and exit\n"
	             "Every key can be overridden by an HMS_<KEY> environment variable.\n"
	             "Exit status: 0 stopped cleanly (or, with --check-config, valid); 1 could\n"
	             "not start (the socket); 2 a usage or configuration error. See hms(8).\n");
}

/* Where this binary lives, to notice an upgrade installed there. */
static void remember_binary(struct master *m, char **argv)
{
	struct stat st;

	m->argv = argv;
	if (realpath("/proc/self/exe", m->exe_path) == NULL || stat(m->exe_path, &st) != 0) {
		m->exe_path[0] = '\0';
		return;
	}
	/* A binary replaced since this one started shows as "... (deleted)";
	 * the path it was started as is where an upgrade lands. */
	m->exe_dev = st.st_dev;
	m->exe_ino = st.st_ino;
}

/* After an upgrade's exec: the socket and the old workers of the previous
 * image. Returns the socket, or -1 at an ordinary start. */
static int adopt_socket(struct master *m)
{
	const char *fd_text = getenv(ENV_LISTEN_FD), *pids = getenv(ENV_RETIRING);
	char *end;
	long fd;
	int listening = 0;
	socklen_t len = sizeof(listening);
	struct stat st;

	if (fd_text == NULL)
		return -1;
	fd = strtol(fd_text, &end, 10);
	if (*end != '\0' || fd < 3 || fd > 65535 || fstat((int)fd, &st) != 0 ||
	    !S_ISSOCK(st.st_mode) ||
	    getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
		unsetenv(ENV_LISTEN_FD);
		unsetenv(ENV_RETIRING);
		return -1;
	}
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	for (const char *p = pids != NULL ? pids : ""; *p != '\0';) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 1 && m->retiring_count < MAX_RETIRING) {
			m->retiring[m->retiring_count++] = (pid_t)pid;
			kill((pid_t)pid, SIGTERM);
		}
		p = *end == ',' ? end + 1 : end;
	}
	log_event(LOG_INFO, "upgraded", "i:retiring", (int)m->retiring_count, LOG_END);
	unsetenv(ENV_LISTEN_FD);
	unsetenv(ENV_RETIRING);
	return (int)fd;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct master m;
	char err[CONFIG_ERROR_MAX];
	bool check_only = false;
	sigset_t set;
	int opt;

	m.config_path = getenv("HMS_CONFIG");
	if (m.config_path == NULL)
		m.config_path = config_default_path();
	while ((opt = getopt_long(argc, argv, "c:kh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			m.config_path = optarg;
			break;
		case 'k':
			check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	config_init(&m.cfg);
	if (config_load(&m.cfg, m.config_path, err, sizeof(err)) != 0 ||
	    config_validate(&m.cfg, CONFIG_FOR_SERVER, err, sizeof(err)) != 0) {
		fprintf(stderr, "hms: configuration error: %s\n", err);
		config_free(&m.cfg);
		return 2;
	}
	if (check_only) {
		printf("hms: configuration is valid\n");
		config_free(&m.cfg);
		return 0;
	}
	log_init((enum log_level)log_level_parse(m.cfg.log_level), "master");

	/* Default dispositions first: an inherited SIG_IGN (nohup) would make
	 * the kernel drop SIGHUP before sigtimedwait could take it. */
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	remember_binary(&m, argv);
	m.listen_fd = adopt_socket(&m);
	if (m.listen_fd < 0)
		m.listen_fd = open_socket(&m.cfg, err, sizeof(err));
	if (m.listen_fd < 0) {
		fprintf(stderr, "hms: %s\n", err);
		log_event(LOG_ERROR, "listen_failed", "s:reason", err, LOG_END);
		config_free(&m.cfg);
		return 1;
	}
	{
		/* An hour is far past any upload's life: nginx buffers the
		 * body, so a worker writes a file in seconds. */
		int swept = file_store_sweep(m.cfg.attachment_dir, 3600);

		if (swept > 0)
			log_event(LOG_INFO, "attachment_temp_files_removed", "i:count", swept,
			          LOG_END);
	}
	if (geteuid() == 0 && (m.cfg.worker_user == NULL || *m.cfg.worker_user == '\0'))
		log_event(LOG_WARN, "workers_run_as_root", "s:reason",
		          "started as root without worker_user: the workers keep root's rights",
		          LOG_END);
	{
		/* What the socket is, not what the file says: after an upgrade
		 * it is the one the previous image handed over. */
		struct sockaddr_storage bound;
		socklen_t len = sizeof(bound);
		char where[NETADDR_TEXT_MAX];

		m.listen_is_tcp = getsockname(m.listen_fd, (struct sockaddr *)&bound, &len) == 0 &&
		                  (bound.ss_family == AF_INET || bound.ss_family == AF_INET6);
		if (m.listen_is_tcp != config_listens_on_tcp(&m.cfg))
			log_event(LOG_WARN, "listen_socket_kept", "s:reason",
			          "the socket handed over by the previous binary is not the "
			          "configured kind; it stays until a restart",
			          LOG_END);
		if (m.listen_is_tcp)
			netaddr_format((struct sockaddr *)&bound, where, sizeof(where));
		set_slots(&m, config_worker_count(&m.cfg));
		log_event(LOG_INFO, "started", "s:socket",
		          m.listen_is_tcp ? where : m.cfg.socket_path, "s:transport",
		          m.listen_is_tcp ? "tcp" : "unix", "s:instance", m.cfg.instance_name,
		          "i:workers", (int)(m.slot_count - 1), LOG_END);
	}
	for (long i = 0; i < m.slot_count; i++)
		start_slot(&m, &m.slots[i]);

	for (;;) {
		double wait = next_wakeup(&m);
		struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload(&m);
		reap(&m, false);
		restart_due(&m);
	}
	shut_down(&m, &set);
	close(m.listen_fd);
	if (!m.listen_is_tcp)
		unlink(m.cfg.socket_path);
	log_event(LOG_INFO, "stopped", LOG_END);
	config_free(&m.cfg);
	return 0;
}
