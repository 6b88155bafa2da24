/*
 * check.c - `hmsctl check`: what an operator runs after installing,
 * upgrading or editing the configuration, as the user hms runs as
 * (sudo -u hms hmsctl check), before (re)starting the service.
 *
 * Every item is looked at even when an earlier one failed, so that one run
 * lists everything to fix; an item that cannot be looked at without an
 * earlier one (the migrations without a database connection) says "skip".
 * Nothing is changed, and no secret or connection string is printed: libpq's
 * messages name the host and the role, never the password.
 */
#include "hms/check.h"

#include <errno.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "hms/config.h"
#include "hms/migrate.h"

struct check {
	FILE *out;
	int problems;
};

static void say(struct check *c, const char *tag, const char *fmt, va_list ap)
{
	fprintf(c->out, "%-5s ", tag);
	vfprintf(c->out, fmt, ap);
	fputc('\n', c->out);
}

static void ok(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, "ok", fmt, ap);
	va_end(ap);
}

static void skip(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void skip(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, "skip", fmt, ap);
	va_end(ap);
}

static void fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, "FAIL", fmt, ap);
	va_end(ap);
	c->problems++;
}

/* Appends "; what" (or just what) to a line being built. */
static void add(char *line, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(char *line, size_t size, const char *fmt, ...)
{
	size_t len = strlen(line);
	va_list ap;

	if (len > 0 && len + 2 < size) {
		memcpy(line + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(line + len, size - len, fmt, ap);
	va_end(ap);
}

static bool is_set(const char *s)
{
	return s != NULL && *s != '\0';
}

static const char *group_name(gid_t gid, char *buf, size_t size)
{
	const struct group *gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(buf, size, "%s", gr->gr_name);
	else
		snprintf(buf, size, "%u", (unsigned)gid);
	return buf;
}

/* --- the database ------------------------------------------------------------ */

/* Connects as hms does (a 5 s timeout the conninfo may override). */
static PGconn *connect_to(const char *conninfo)
{
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *const values[] = {"5", "hmsctl-check", conninfo, NULL};

	return PQconnectdbParams(keys, values, 1);
}

/* libpq's message, its first line only. */
static int first_line(const char *text)
{
	return (int)strcspn(text, "\n");
}

static PGconn *check_connection(struct check *c, const char *key, const char *conninfo)
{
	PGconn *conn = connect_to(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fail(c, "database (%s): cannot connect: %.*s", key,
		     first_line(PQerrorMessage(conn)), PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	ok(c, "database (%s): connected to %s as %s, PostgreSQL %d", key, PQdb(conn), PQuser(conn),
	   PQserverVersion(conn) / 10000);
	return conn;
}

static void check_migrations(struct check *c, PGconn *conn, const char *dir)
{
	struct migrate_status st;
	char err[1024];
	char line[1024] = "";

	if (conn == NULL) {
		skip(c, "migrations: no database connection");
		return;
	}
	if (!is_set(dir)) {
		fail(c, "migrations: schema_dir is not set");
		return;
	}
	if (migrate_status(conn, dir, &st, err, sizeof(err)) != 0) {
		fail(c, "migrations: %s", err);
		return;
	}
	if (st.pending > 0)
		add(line, sizeof(line), "%d file(s) of %s not applied, from %s: run hmsctl migrate",
		    st.pending, dir, st.first_pending);
	if (st.changed > 0)
		add(line, sizeof(line),
		    "%d applied file(s) changed since, from %s: restore them from the release",
		    st.changed, st.first_changed);
	if (st.unknown > 0)
		add(line, sizeof(line),
		    "%d migration(s) applied that %s lacks, from %s: is schema_dir older than "
		    "the database?",
		    st.unknown, dir, st.first_unknown);
	if (*line != '\0')
		fail(c, "migrations: %s", line);
	else
		ok(c, "migrations: all %d files of %s applied, checksums match", st.files, dir);
}

/* --- the attachment directory ---------------------------------------------------- */

static void check_attachment_dir(struct check *c, const struct hms_config *cfg,
                                 const struct group *web, long min_free_mb)
{
	const char *dir = cfg->attachment_dir;
	char line[1024] = "";
	char gname[64];
	struct statvfs fs;
	struct stat st;

	if (!is_set(dir)) {
		fail(c, "attachment_dir is not set");
		return;
	}
	if (stat(dir, &st) != 0) {
		fail(c, "attachment_dir %s: %s", dir, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		fail(c, "attachment_dir %s: not a directory", dir);
		return;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		const struct passwd *pw = getpwuid(geteuid());

		add(line, sizeof(line), "not writable by %s (run check as the user hms runs as)",
		    pw != NULL ? pw->pw_name : "this user");
	}
	if (st.st_mode & S_IWOTH)
		add(line, sizeof(line), "writable by others: chmod o-rwx %s", dir);
	else if (st.st_mode & (S_IROTH | S_IXOTH))
		add(line, sizeof(line), "open to others: chmod o-rwx %s", dir);
	/* With socket_group, nginx's workers are in that group and serve the
	 * stored files (mode 0640) from here: the directory must be theirs to
	 * read, and setgid so that every new file gets the group too. Without
	 * it, nginx runs as the user hms runs as (a development stack). */
	if (web != NULL) {
		if (st.st_gid != web->gr_gid)
			add(line, sizeof(line),
			    "group is %s, not socket_group %s (nginx's, which serves the files): "
			    "chgrp %s %s",
			    group_name(st.st_gid, gname, sizeof(gname)), web->gr_name, web->gr_name,
			    dir);
		if ((st.st_mode & (S_IRGRP | S_IXGRP)) != (S_IRGRP | S_IXGRP))
			add(line, sizeof(line), "not readable by group %s: chmod g+rx %s",
			    web->gr_name, dir);
		if (st.st_mode & S_IWGRP)
			add(line, sizeof(line), "writable by its group: chmod g-w %s", dir);
		if (!(st.st_mode & S_ISGID))
			add(line, sizeof(line),
			    "not setgid, so new files would not get group %s: chmod g+s %s",
			    web->gr_name, dir);
	}
	if (*line != '\0')
		fail(c, "attachment_dir %s (mode %04o, group %s): %s", dir,
		     (unsigned)(st.st_mode & 07777), group_name(st.st_gid, gname, sizeof(gname)),
		     line);
	else
		ok(c, "attachment_dir %s: mode %04o, group %s, writable", dir,
		   (unsigned)(st.st_mode & 07777), group_name(st.st_gid, gname, sizeof(gname)));

	if (statvfs(dir, &fs) != 0) {
		fail(c, "free space in %s: statvfs: %s", dir, strerror(errno));
		return;
	}
	{
		double free_mb = (double)fs.f_bavail * (double)fs.f_frsize / (1024.0 * 1024.0);

		if (free_mb < (double)min_free_mb)
			fail(c,
			     "free space in %s: %.0f MiB, under %ld MiB: make room or grow the "
			     "file system",
			     dir, free_mb, min_free_mb);
		else
			ok(c, "free space in %s: %.1f GiB", dir, free_mb / 1024.0);
	}
}

/* --- files that hold secrets ----------------------------------------------------- */

/* A password in a libpq conninfo: password=..., or user:secret@ in a URI. */
static bool conninfo_has_password(const char *conninfo)
{
	const char *scheme;

	if (!is_set(conninfo))
		return false;
	if (strstr(conninfo, "password") != NULL)
		return true;
	scheme = strstr(conninfo, "://");
	if (scheme != NULL) {
		size_t auth = strcspn(scheme + 3, "@/?");

		return scheme[3 + auth] == '@' && memchr(scheme + 3, ':', auth) != NULL;
	}
	return false;
}

/* A file of secrets may be read by its owner and its group (the service's
 * group, e.g. hms), by nobody else, and written by its owner only. The
 * configuration file itself may be readable by others unless it holds a
 * secret inline. */
static void check_secret_file(struct check *c, const char *key, const char *path,
                              const struct group *web, bool others_may_read)
{
	char line[1024] = "";
	char gname[64];
	struct stat st;

	if (stat(path, &st) != 0) {
		fail(c, "%s %s: %s", key, path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(c, "%s %s: not a regular file", key, path);
		return;
	}
	if (st.st_mode & S_IWOTH)
		add(line, sizeof(line), "writable by others");
	else if ((st.st_mode & S_IROTH) && !others_may_read)
		add(line, sizeof(line), "readable by others");
	if (st.st_mode & S_IWGRP)
		add(line, sizeof(line), "writable by group %s",
		    group_name(st.st_gid, gname, sizeof(gname)));
	if (web != NULL && st.st_gid == web->gr_gid && (st.st_mode & S_IRGRP) && !others_may_read)
		add(line, sizeof(line), "readable by group %s, nginx's (socket_group)",
		    web->gr_name);
	if (*line != '\0')
		fail(c,
		     "%s %s (mode %04o, group %s): %s: chmod 0600 %s (0640 with the group hms "
		     "runs as)",
		     key, path, (unsigned)(st.st_mode & 07777),
		     group_name(st.st_gid, gname, sizeof(gname)), line, path);
	else
		ok(c, "%s %s: mode %04o, group %s", key, path, (unsigned)(st.st_mode & 07777),
		   group_name(st.st_gid, gname, sizeof(gname)));
}

static void check_secret_files(struct check *c, const struct hms_config *cfg,
                               const char *config_path, const struct group *web)
{
	const struct {
		const char *key, *path;
	} files[] = {
	    {"jwt_keys_file", cfg->jwt_keys_file},
	    {"audit_seal_keys_file", cfg->audit_seal_keys_file},
	    {"download_keys_file", cfg->download_keys_file},
	};

	if (is_set(config_path)) {
		bool inline_secret = is_set(cfg->jwt_keys) || is_set(cfg->audit_seal_keys) ||
		                     is_set(cfg->download_keys) ||
		                     conninfo_has_password(cfg->database_url) ||
		                     conninfo_has_password(cfg->admin_database_url);

		check_secret_file(c, "configuration file", config_path, web, !inline_secret);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (is_set(files[i].path))
			check_secret_file(c, files[i].key, files[i].path, web, false);
}

/* What nginx connects to, the name this host's temporary upload files
 * carry in a directory other hosts may share, and the web server the
 * downloads are handed to: said, not judged (the configuration's
 * validation has refused what is wrong). */
static void check_listener(struct check *c, const struct hms_config *cfg)
{
	if (config_listens_on_tcp(cfg))
		ok(c,
		   "FastCGI on TCP %s, from %s only (fastcgi_allowed_peers): no authentication, "
		   "no encryption; let nothing else reach the port",
		   cfg->listen_address, cfg->fastcgi_allowed_peers);
	else
		ok(c, "FastCGI on the unix socket %s", cfg->socket_path);
	ok(c,
	   "instance_name %s: names this host's temporary upload files; with attachment_dir "
	   "shared, every host needs its own",
	   cfg->instance_name);
	/* The one thing the web server changes: its site must agree. */
	if (cfg->web_server_kind == WEB_SERVER_APACHE)
		ok(c,
		   "web_server apache: downloads are handed to Apache with X-Sendfile; its site's "
		   "XSendFilePath must be %s (deploy/apache/hms.conf)",
		   cfg->attachment_dir);
	else
		ok(c,
		   "web_server nginx: downloads are handed to nginx with X-Accel-Redirect; its "
		   "site's /_protected/ must alias %s (deploy/nginx/hms.conf)",
		   cfg->attachment_dir);
}

int check_run(const struct check_options *options, FILE *out)
{
	struct check c = {.out = out};
	const struct group *found;
	struct group web_copy;
	const struct group *web = NULL;
	struct hms_config cfg;
	char err[CONFIG_ERROR_MAX];
	PGconn *conn = NULL;

	config_init(&cfg);
	if (config_load(&cfg, options->config_path, err, sizeof(err)) != 0) {
		fail(&c, "configuration: %s", err);
		goto out;
	}
	if (config_validate(&cfg, CONFIG_FOR_CHECK, err, sizeof(err)) != 0) {
		fail(&c, "configuration: %s", err);
	} else {
		ok(&c, "configuration %s: valid",
		   is_set(options->config_path) ? options->config_path : "(environment only)");
		check_listener(&c, &cfg);
	}

	if (is_set(cfg.socket_group) && (found = getgrnam(cfg.socket_group)) != NULL) {
		web_copy = *found; /* the next getgrgid() may overwrite it; only gr_gid and */
		web = &web_copy;   /* gr_name (the config's string) are used */
		web_copy.gr_name = cfg.socket_group;
	}

	/* The workers' connection; the owner's too when hmsctl has its own. */
	if (is_set(cfg.database_url))
		conn = check_connection(&c, "database_url", cfg.database_url);
	else
		skip(&c, "database: no database_url");
	if (is_set(cfg.admin_database_url) &&
	    (!is_set(cfg.database_url) || strcmp(cfg.admin_database_url, cfg.database_url) != 0)) {
		PGconn *admin = check_connection(&c, "admin_database_url", cfg.admin_database_url);

		if (conn == NULL)
			conn = admin;
		else
			PQfinish(admin);
	}
	check_migrations(&c, conn, cfg.schema_dir);
	PQfinish(conn);

	check_attachment_dir(&c, &cfg, web, options->min_free_mb);
	check_secret_files(&c, &cfg, options->config_path, web);
out:
	if (c.problems == 0)
		fprintf(out, "hmsctl check: no problem found\n");
	else
		fprintf(out, "hmsctl check: %d problem%s found\n", c.problems,
		        c.problems == 1 ? "" : "s");
	config_free(&cfg);
	return c.problems;
}
