/*
 * test_faults.c - the process model under faults, through the real stack:
 * a killed worker is replaced while requests keep succeeding, workers that
 * die at once are restarted with a growing delay, SIGHUP swaps every worker
 * without a failed request, and a PostgreSQL outage gives 503 and heals
 * without restarting anything. Run serially (-j1): these tests disturb the
 * shared stack.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define MAX_CHILDREN 64

static pid_t master_pid(void)
{
	char path[512];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/run/hms.pid", client_env("HMS_TEST_STATE"));
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	cr_assert(kill(pid, 0) == 0, "the hms master %d is not running", pid);
	return pid;
}

/* The live children of the master named comm ("(hms)" for a worker,
 * "(hms-sealer)" for the audit sealer), sorted; at most MAX_CHILDREN. */
static size_t children(pid_t master, const char *comm_wanted, pid_t *out)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL && n < MAX_CHILDREN) {
		char path[300], comm[32], state;
		int pid, ppid;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		/* pid (comm) state ppid: our comms have no spaces. */
		if (fscanf(f, "%d %31s %c %d", &pid, comm, &state, &ppid) == 4 && ppid == master &&
		    state != 'Z' && strcmp(comm, comm_wanted) == 0)
			out[n++] = pid;
		fclose(f);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			pid_t t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* The live worker pids of the master, sorted. */
static size_t workers(pid_t master, pid_t *out)
{
	return children(master, "(hms)", out);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static long health_status(void)
{
	struct client_response res;
	long status;

	client_get("/api/health/", &res);
	status = res.status;
	client_response_free(&res);
	return status;
}

/* Waits until the master has `want` workers, none of them in `gone`. */
static void wait_for_workers(pid_t master, size_t want, const pid_t *gone, size_t gone_count)
{
	for (int i = 0; i < 200; i++) {
		pid_t now[MAX_CHILDREN];
		size_t n = workers(master, now);
		int stale = 0;

		for (size_t a = 0; a < n; a++)
			for (size_t b = 0; b < gone_count; b++)
				stale |= now[a] == gone[b];
		if (n == want && !stale)
			return;
		sleep_ms(100);
	}
	cr_assert_fail("the master did not get back to %zu fresh workers", want);
}

Test(faults, killed_worker_is_replaced_and_requests_keep_succeeding)
{
	pid_t master = master_pid();
	pid_t before[MAX_CHILDREN];
	size_t n = workers(master, before);

	cr_assert_geq(n, 1);
	cr_assert_eq(kill(before[0], SIGKILL), 0);
	for (int i = 0; i < 30; i++)
		cr_assert_eq(health_status(), 200, "request %d after the kill failed", i);
	wait_for_workers(master, n, before, 1);
	cr_assert_eq(master_pid(), master);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(health_status(), 200);
}

Test(faults, quick_deaths_are_restarted_with_backoff)
{
	pid_t master = master_pid();
	pid_t now[MAX_CHILDREN];
	size_t n = workers(master, now);
	char cmd[1024];
	char *out;

	/* Kill whichever worker is newest, three times, each soon after its
	 * start: the slot's delay grows 0.2 s, 0.4 s, 0.8 s. */
	for (int round = 0; round < 3; round++) {
		pid_t victims[MAX_CHILDREN];
		size_t k = workers(master, victims);

		cr_assert_geq(k, 1);
		kill(victims[k - 1], SIGKILL);
		wait_for_workers(master, n, &victims[k - 1], 1);
	}
	snprintf(cmd, sizeof(cmd),
	         "grep '\"event\":\"worker_died\"' '%s/log/hms.log' | grep -c "
	         "'\"restart_in_seconds\":0.[48]'",
	         client_env("HMS_TEST_STATE"));
	client_run(cmd, &out);
	cr_assert_geq(atoi(out), 1, "no backed-off restart in the log (%s)", out);
	free(out);
	cr_assert_eq(health_status(), 200);
}

static atomic_int load_running;
static atomic_int load_ok;
static atomic_int load_failed;

static void *load(void *arg)
{
	(void)arg;
	while (atomic_load(&load_running)) {
		struct client_response res;

		if (client_request("GET", "/api/health/", NULL, NULL, 0, &res) == 0 &&
		    res.status == 200)
			atomic_fetch_add(&load_ok, 1);
		else
			atomic_fetch_add(&load_failed, 1);
		client_response_free(&res);
	}
	return NULL;
}

Test(faults, reload_replaces_every_worker_without_failed_requests)
{
	pid_t master = master_pid();
	pid_t before[MAX_CHILDREN];
	size_t n = workers(master, before);
	pthread_t threads[4];

	atomic_store(&load_running, 1);
	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, load, NULL);
	sleep_ms(300);
	cr_assert_eq(kill(master, SIGHUP), 0);
	sleep_ms(600);
	cr_assert_eq(kill(master, SIGHUP), 0);
	sleep_ms(600);
	atomic_store(&load_running, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);

	cr_assert_gt(atomic_load(&load_ok), 20);
	cr_assert_eq(atomic_load(&load_failed), 0, "%d requests failed during reload",
	             atomic_load(&load_failed));
	wait_for_workers(master, n, before, n);
	cr_assert_eq(master_pid(), master);
}

static void stack(const char *what)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s/deploy/stack.sh' %s >/dev/null 2>&1",
	         client_env("HMS_TEST_ROOT"), what);
	cr_assert_eq(system(cmd), 0, "stack.sh %s failed", what);
}

static void restart_database(void)
{
	/* Whatever a failed assertion left behind, the next test needs it. */
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s/deploy/stack.sh' pg-start >/dev/null 2>&1",
	         client_env("HMS_TEST_ROOT"));
	if (system(cmd) != 0)
		cr_log_error("could not restart PostgreSQL");
}

Test(faults, database_outage_gives_503_and_heals_without_restart, .fini = restart_database)
{
	pid_t master = master_pid();
	pid_t before[MAX_CHILDREN], after[MAX_CHILDREN];
	size_t n = workers(master, before);
	struct client_response res;

	cr_assert_eq(health_status(), 200);
	stack("pg-stop");
	for (int i = 0; i < 6; i++) {
		struct json_object *v;

		client_get("/api/health/", &res);
		cr_assert_eq(res.status, 503, "%ld %s", res.status, res.body);
		cr_assert_not_null(res.json);
		cr_assert(json_object_object_get_ex(res.json, "detail", &v));
		cr_assert(json_object_object_get_ex(res.json, "database", &v));
		cr_assert_str_eq(json_object_get_string(v), "unavailable");
		/* Nothing about the failure's internals reaches the client. */
		cr_assert_null(strstr(res.body, "/"), "%s", res.body);
		cr_assert_null(strstr(res.body, "connection"), "%s", res.body);
		client_response_free(&res);
	}
	cr_assert_eq(workers(master, after), n);
	cr_assert(memcmp(before, after, n * sizeof(pid_t)) == 0, "workers restarted");

	stack("pg-start");
	/* The very first request after the restart must already succeed. */
	cr_assert_eq(health_status(), 200);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(health_status(), 200);
	cr_assert_eq(workers(master, after), n);
	cr_assert(memcmp(before, after, n * sizeof(pid_t)) == 0, "workers restarted");
	cr_assert_eq(master_pid(), master);
}

/* --- nginx's limit_req on the token endpoint ---------------------------------- */

static atomic_int flood_throttled;
static atomic_int flood_with_retry_after;
static atomic_int flood_json;

static void *flood(void *arg)
{
	const char *headers[] = {"Content-Type: application/json", NULL};

	(void)arg;
	client_keep_connection(true);
	/* Until nginx has said no a few times: on a busy machine the clients
	 * may at first go little faster than the rate, and the burst must be
	 * used up first. Bounded: 8 x 750 requests at the most. */
	for (int i = 0; i < 750 && atomic_load(&flood_throttled) < 40; i++) {
		struct client_response res;

		if (client_request("POST", "/api/auth/token/", headers, "{}", 2, &res) != 0)
			continue;
		if (res.status == 429) {
			atomic_fetch_add(&flood_throttled, 1);
			if (client_header(&res, "Retry-After") != NULL)
				atomic_fetch_add(&flood_with_retry_after, 1);
			if (res.json != NULL && json_object_object_get_ex(res.json, "detail", NULL))
				atomic_fetch_add(&flood_json, 1);
		}
		client_response_free(&res);
	}
	client_keep_connection(false);
	return NULL;
}

Test(faults, token_endpoint_is_rate_limited_by_nginx_with_retry_after)
{
	pthread_t threads[8];
	long status = 429;

	/* Up to 6,000 requests as fast as 8 clients go: far beyond the test
	 * stack's rate (HMS_TOKEN_RATE, HMS_TOKEN_BURST in tests/run.sh). */
	for (int i = 0; i < 8; i++)
		pthread_create(&threads[i], NULL, flood, NULL);
	for (int i = 0; i < 8; i++)
		pthread_join(threads[i], NULL);
	cr_assert_gt(atomic_load(&flood_throttled), 0, "no 429 from nginx's limit_req");
	cr_assert_eq(atomic_load(&flood_with_retry_after), atomic_load(&flood_throttled),
	             "every 429 carries Retry-After");
	cr_assert_eq(atomic_load(&flood_json), atomic_load(&flood_throttled),
	             "every 429 is {\"detail\": ...}");
	/* Leave the limit as we found it for the tests that follow. */
	for (int i = 0; i < 100 && status == 429; i++) {
		struct client_response res;
		const char *headers[] = {"Content-Type: application/json", NULL};

		sleep_ms(200);
		cr_assert_eq(client_request("POST", "/api/auth/token/", headers, "{}", 2, &res), 0);
		status = res.status;
		client_response_free(&res);
	}
	cr_assert_neq(status, 429, "the limit did not recover");
}

/* --- the audit trail under faults ------------------------------------------------ */

/* The pid of the master's audit sealer, or 0. */
static pid_t sealer_pid(pid_t master)
{
	pid_t pids[MAX_CHILDREN];

	return children(master, "(hms-sealer)", pids) == 1 ? pids[0] : 0;
}

/* Runs hmsctl audit-verify on the stack; its output in *out. */
static int audit_verify(char **out)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "HMS_CONFIG='%s/hms.conf' '%s' audit-verify 2>&1",
	         client_env("HMS_TEST_STATE"), client_env("HMS_TEST_HMSCTL_BIN"));
	return client_run(cmd, out);
}

/* Audited reads of one patient, each with its own request id; the ids of
 * the answers that were 200 are kept (the client's own log of what was
 * acknowledged). */
#define MAX_ACKED 50000
static char patient_path[64];
static char acked[MAX_ACKED][40];
static atomic_int acked_count;
static atomic_int read_failed;

static void *audited_reads(void *arg)
{
	long thread = (long)arg;

	for (long i = 0; atomic_load(&load_running); i++) {
		char id[40], header[64], auth[600];
		const char *headers[] = {header, auth, NULL};
		struct client_response res;

		snprintf(id, sizeof(id), "f%d-%ld-%ld", (int)getpid(), thread, i);
		snprintf(header, sizeof(header), "X-Request-ID: %s", id);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", client_admin_token());
		if (client_request("GET", patient_path, headers, NULL, 0, &res) == 0 &&
		    res.status == 200) {
			int k = atomic_fetch_add(&acked_count, 1);

			if (k < MAX_ACKED)
				memcpy(acked[k], id, sizeof(id));
		} else {
			atomic_fetch_add(&read_failed, 1);
		}
		client_response_free(&res);
	}
	return NULL;
}

static void start_audited_reads(pthread_t *threads, int n)
{
	struct client_response res;

	client_post_json("/api/patients/", client_admin_token(),
	                 "{\"first_name\": \"Fault\", \"last_name\": \"Tolerance\", "
	                 "\"date_of_birth\": \"1980-01-01\", \"gender\": \"other\"}",
	                 &res);
	client_assert_status(&res, 201);
	snprintf(patient_path, sizeof(patient_path), "/api/patients/%lld/",
	         client_json_int(res.json, "id"));
	client_response_free(&res);
	atomic_store(&acked_count, 0);
	atomic_store(&read_failed, 0);
	atomic_store(&load_running, 1);
	for (long i = 0; i < n; i++)
		pthread_create(&threads[i], NULL, audited_reads, (void *)i);
}

static void stop_audited_reads(pthread_t *threads, int n)
{
	atomic_store(&load_running, 0);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

/* Every acknowledged read has its audit row: one query for all of them. */
static void assert_every_acked_read_audited(void)
{
	int n = atomic_load(&acked_count) < MAX_ACKED ? atomic_load(&acked_count) : MAX_ACKED;
	size_t size = (size_t)n * 44 + 256;
	char *sql = malloc(size);
	size_t len;
	long long found;

	cr_assert_not_null(sql);
	len = (size_t)snprintf(sql, size,
	                       "SELECT count(DISTINCT request_id) FROM audit_log WHERE action = "
	                       "'read' AND entity_type = 'patient' AND request_id IN (");
	for (int i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(sql + len, size - len, "%s'%s'", i > 0 ? "," : "", acked[i]);
	snprintf(sql + len, size - len, ")");
	found = client_sql_long(sql);
	free(sql);
	cr_assert_eq(found, n, "%d reads were acknowledged but only %lld have an audit row", n,
	             found);
}

Test(faults, a_killed_sealer_is_restarted_and_seals_every_row)
{
	pid_t master = master_pid(), sealer = sealer_pid(master), again = 0;
	pthread_t threads[4];
	char *out = NULL;
	int rc = 1;

	cr_assert_neq(sealer, 0, "no sealer process");
	start_audited_reads(threads, 4);
	sleep_ms(400);
	cr_assert_eq(kill(sealer, SIGKILL), 0);
	for (int i = 0; i < 100 && (again == 0 || again == sealer); i++) {
		sleep_ms(100);
		again = sealer_pid(master);
	}
	sleep_ms(400);
	stop_audited_reads(threads, 4);
	cr_assert(again != 0 && again != sealer, "the sealer was not restarted");
	cr_assert_gt(atomic_load(&acked_count), 50);
	assert_every_acked_read_audited();
	/* Within a few seconds everything written is sealed, and intact. */
	for (int i = 0; i < 50 && rc != 0; i++) {
		free(out);
		sleep_ms(200);
		rc = audit_verify(&out);
		if (rc == 0 && strstr(out, "unsealed: 0 rows") == NULL)
			rc = 1;
	}
	cr_assert_eq(rc, 0, "%s", out);
	free(out);
}

/* The database killed without warning (an immediate shutdown loses what
 * was not flushed): every read the client got a 200 for still has its
 * audit row afterwards. */
Test(faults, every_acknowledged_read_keeps_its_audit_row_after_a_database_crash,
     .fini = restart_database)
{
	char path[512];
	pthread_t threads[4];
	int postmaster = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pg/data/postmaster.pid", client_env("HMS_TEST_STATE"));
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fscanf(f, "%d", &postmaster), 1);
	fclose(f);
	start_audited_reads(threads, 4);
	sleep_ms(500);
	/* SIGQUIT to the postmaster is pg_ctl stop -m immediate. */
	cr_assert_eq(kill(postmaster, SIGQUIT), 0);
	sleep_ms(500);
	stack("pg-start");
	sleep_ms(800);
	stop_audited_reads(threads, 4);
	cr_assert_gt(atomic_load(&acked_count), 50);
	assert_every_acked_read_audited();
	cr_assert_eq(health_status(), 200);
}

/* --- a full attachment directory ---------------------------------------- */

static char full_dir[512];

static void unmount_full_dir(void)
{
	char cmd[600];

	if (full_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "umount '%s' 2>&1", full_dir);
	client_run(cmd, NULL);
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

Test(faults, a_full_attachment_directory_is_507_and_leaves_nothing, .fini = unmount_full_dir)
{
	struct client_user doctor;
	struct client_tokens tokens;
	struct client_response res;
	char *out = NULL, *cmd, *body, *auth;
	size_t file_len = 512 * 1024, len;
	long long patient, record, rows;
	const char *headers[3];

	if (geteuid() != 0)
		cr_skip_test("mounting a small tmpfs needs root (CI runs as root)");
	out = client_stack_setting("attachment_dir");
	snprintf(full_dir, sizeof(full_dir), "%s", out);
	free(out);
	/* A 256 KiB file system over the directory, owned and moded like it. */
	cmd = client_format("set -e; d='%s'; u=$(stat -c %%u \"$d\"); g=$(stat -c %%g \"$d\"); "
	                    "m=$(stat -c %%a \"$d\"); mount -t tmpfs -o size=256k,uid=$u,gid=$g,"
	                    "mode=$m tmpfs \"$d\" 2>&1",
	                    full_dir);
	cr_assert_eq(client_run(cmd, &out), 0, "%s", out ? out : "");
	free(out);
	free(cmd);

	client_create_user("doctor", &doctor);
	client_user_login(&doctor, &tokens);
	client_post_json("/api/patients/", client_admin_token(),
	                 "{\"first_name\":\"Full\",\"last_name\":\"Disk\",\"date_of_birth\":"
	                 "\"1970-01-01\",\"gender\":\"male\"}",
	                 &res);
	client_assert_status(&res, 201);
	patient = client_json_int(res.json, "id");
	client_response_free(&res);
	cmd = client_format("/api/patients/%lld/records/", patient);
	client_post_json(cmd, tokens.access, "{\"record_type\":\"note\",\"title\":\"Disk\"}", &res);
	free(cmd);
	client_assert_status(&res, 201);
	record = client_json_int(res.json, "id");
	client_response_free(&res);
	rows = client_sql_long("SELECT count(*) FROM attachments");

	body = malloc(file_len + 1024);
	len =
	    (size_t)sprintf(body,
	                    "--B0undary\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n"
	                    "%lld\r\n--B0undary\r\nContent-Disposition: form-data; name=\"file\"; "
	                    "filename=\"big.txt\"\r\n\r\n",
	                    record);
	memset(body + len, 'a', file_len);
	len += file_len;
	len += (size_t)sprintf(body + len, "\r\n--B0undary--\r\n");
	auth = client_format("Authorization: Bearer %s", tokens.access);
	headers[0] = auth;
	headers[1] = "Content-Type: multipart/form-data; boundary=B0undary";
	headers[2] = NULL;
	cr_assert_eq(client_request("POST", "/api/attachments/", headers, body, len, &res), 0);
	client_assert_detail(&res, 507);
	client_response_free(&res);
	cr_assert_eq(dir_entries(full_dir), 0, "a failed upload left a file behind");
	cr_assert_eq(client_sql_long("SELECT count(*) FROM attachments"), rows);

	/* A small file still fits: the service is fine once there is room. */
	len =
	    (size_t)sprintf(body,
	                    "--B0undary\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n"
	                    "%lld\r\n--B0undary\r\nContent-Disposition: form-data; name=\"file\"; "
	                    "filename=\"small.txt\"\r\n\r\nsmall\r\n--B0undary--\r\n",
	                    record);
	cr_assert_eq(client_request("POST", "/api/attachments/", headers, body, len, &res), 0);
	client_assert_status(&res, 201);
	client_response_free(&res);
	free(auth);
	free(body);
	client_tokens_free(&tokens);
}

Test(faults, a_killed_workers_temporary_upload_files_are_removed)
{
	pid_t master = master_pid();
	pid_t before[MAX_CHILDREN];
	size_t n = workers(master, before);
	char host[65] = "host", *dir = NULL, *mine, *other;
	FILE *f;

	cr_assert_geq(n, 1);
	dir = client_stack_setting("attachment_dir");
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (char *c = host; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-'))
			*c = '_';
	/* What the worker would have left mid-upload, and a temporary file of
	 * another (live) worker, which must stay. */
	mine = client_format("%s/.upload-%s.%ld.0123456789abcdef0123456789abcdef", dir, host,
	                     (long)before[0]);
	other = client_format("%s/.upload-%s.%ld.fedcba9876543210fedcba9876543210", dir, host,
	                      (long)master);
	f = fopen(mine, "w");
	cr_assert_not_null(f);
	fclose(f);
	f = fopen(other, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(kill(before[0], SIGKILL), 0);
	wait_for_workers(master, n, before, 1);
	cr_assert_neq(access(mine, F_OK), 0, "the dead worker's temporary file is still there");
	cr_assert_eq(access(other, F_OK), 0, "another process's temporary file was removed");
	unlink(other);
	free(mine);
	free(other);
	free(dir);
}

/* The file a process runs, as the kernel sees it now. */
static int exe_inode(pid_t pid, ino_t *ino, bool *deleted)
{
	char link[64], target[4200];
	ssize_t n;
	struct stat st;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0 || stat(link, &st) != 0)
		return -1;
	target[n] = '\0';
	*deleted = strstr(target, " (deleted)") != NULL;
	*ino = st.st_ino;
	return 0;
}

Test(faults, an_upgrade_is_install_migrate_sighup_and_drops_no_request)
{
	pid_t master = master_pid();
	pid_t before[MAX_CHILDREN];
	size_t n = workers(master, before);
	const char *bin = client_env("HMS_TEST_HMS_BIN");
	pthread_t threads[4];
	char *cmd, *out = NULL;
	struct stat installed;
	ino_t running = 0;
	bool deleted = true;

	atomic_store(&load_running, 1);
	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, load, NULL);
	sleep_ms(300);
	/* 1. Install: a new file at the binary's path (a copy stands for the
	 *    new release), renamed over it as package managers do. */
	cmd = client_format("cp '%s' '%s.new' && mv '%s.new' '%s'", bin, bin, bin, bin);
	cr_assert_eq(client_run(cmd, NULL), 0);
	free(cmd);
	cr_assert_eq(stat(bin, &installed), 0);
	cr_assert_eq(exe_inode(master, &running, &deleted), 0);
	cr_assert(deleted, "the master should still run the replaced file");
	/* 2. Migrate (nothing new to apply here: the step of the procedure). */
	cmd = client_format("HMS_CONFIG='%s/hms.conf' '%s' migrate 2>&1",
	                    client_env("HMS_TEST_STATE"), client_env("HMS_TEST_HMSCTL_BIN"));
	cr_assert_eq(client_run(cmd, &out), 0, "%s", out != NULL ? out : "");
	free(out);
	free(cmd);
	/* 3. SIGHUP: the master execs the installed binary, keeping its pid
	 *    and its socket, and replaces every worker. */
	cr_assert_eq(kill(master, SIGHUP), 0);
	for (int i = 0; i < 100; i++) {
		if (exe_inode(master, &running, &deleted) == 0 && !deleted &&
		    running == installed.st_ino)
			break;
		sleep_ms(100);
	}
	cr_assert_not(deleted, "the master did not exec the installed binary");
	cr_assert_eq(running, installed.st_ino);
	wait_for_workers(master, n, before, n);
	sleep_ms(500);
	atomic_store(&load_running, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	cr_assert_gt(atomic_load(&load_ok), 20);
	cr_assert_eq(atomic_load(&load_failed), 0, "%d requests failed during the upgrade",
	             atomic_load(&load_failed));
	cr_assert_eq(master_pid(), master);
	/* The new workers run the new file too. */
	{
		pid_t now[MAX_CHILDREN];
		size_t k = workers(master, now);

		for (size_t i = 0; i < k; i++) {
			cr_assert_eq(exe_inode(now[i], &running, &deleted), 0);
			cr_assert_not(deleted);
			cr_assert_eq(running, installed.st_ino);
		}
	}
}
