/*
 * config.c - defaults < conf file < HMS_* environment, then validation.
 *
 * One table lists every key with its type, bounds and default; the file
 * parser and the environment both go through config_set(), so a key behaves
 * the same wherever it is given.
 */
#include "hms/config.h"
#include "hms/json.h"
#include "hms/log.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HMS_SCHEMA_DIR
#define HMS_SCHEMA_DIR "/usr/local/share/hms/schema"
#endif

enum key_type { KEY_STRING, KEY_INT, KEY_OCTAL };

struct config_key {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *default_value; /* NULL = unset */
	long min, max;
};

#define STR(field, def)         #field, KEY_STRING, offsetof(struct hms_config, field), def, 0, 0
#define INT(field, def, lo, hi) #field, KEY_INT, offsetof(struct hms_config, field), def, lo, hi

static const struct config_key keys[] = {
    {STR(database_url, NULL)},
    {STR(jwt_keys, NULL)},
    {STR(jwt_keys_file, NULL)},
    {STR(audit_seal_keys, NULL)},
    {STR(audit_seal_keys_file, NULL)},
    {INT(audit_seal_interval_ms, "250", 50, 60000)},
    {STR(download_keys, NULL)},
    {STR(download_keys_file, NULL)},
    {INT(download_url_seconds, "300", 30, 3600)},
    {STR(public_origin, NULL)},
    {STR(jwt_issuer, "hms")},
    {STR(jwt_audience, "hms-api")},
    {INT(access_token_minutes, "10", 5, 15)},
    {STR(admin_database_url, NULL)},
    {INT(password_memory_kib, "19456", 8, 4194304)},
    {INT(password_iterations, "2", 1, 100)},
    {INT(password_parallelism, "1", 1, 16)},
    {INT(login_failures_before_backoff, "5", 1, 1000)},
    {INT(login_address_failures_before_backoff, "100", 1, 100000)},
    {INT(login_account_failures_before_backoff, "20", 1, 100000)},
    {INT(housekeeping_interval_seconds, "300", 1, 86400)},
    {INT(refresh_token_days, "7", 1, 90)},
    {STR(attachment_dir, "/var/lib/hms/attachments")},
    {STR(web_server, "nginx")},
    {INT(max_upload_bytes, "10485760", 1024, 1073741824)},
    {INT(max_body_bytes, "1048576", 1024, 67108864)},
    {INT(json_max_depth, "32", 2, JSON_MAX_DEPTH)},
    {INT(workers, "0", 0, CONFIG_MAX_WORKERS)},
    {STR(socket_path, "/run/hms/hms.sock")},
    {STR(listen_address, NULL)},
    {STR(fastcgi_allowed_peers, NULL)},
    {STR(instance_name, NULL)},
    {"socket_mode", KEY_OCTAL, offsetof(struct hms_config, socket_mode), "0660", 0, 0777},
    {STR(socket_group, NULL)},
    {STR(worker_user, NULL)},
    {INT(listen_backlog, "1024", 16, 65535)},
    {STR(time_zone, "UTC")},
    {STR(log_level, "info")},
    {INT(shutdown_timeout_seconds, "10", 1, 600)},
    {STR(schema_dir, HMS_SCHEMA_DIR)},
    {INT(statement_timeout_ms, "5000", 0, 3600000)},
    {INT(list_count_cap, "1000", 100, 10000000)},
    {INT(list_max_offset, "10000", 100, 10000000)},
    {STR(fhir_mrn_system, NULL)},
    {STR(fhir_license_system, NULL)},
    {NULL, KEY_STRING, 0, NULL, 0, 0},
};

static const struct config_key *find_key(const char *name)
{
	for (const struct config_key *k = keys; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

int config_set(struct hms_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	const struct config_key *k = find_key(key);
	char *field;

	if (k == NULL) {
		snprintf(err, errlen, "unknown configuration key '%s'", key);
		return -1;
	}
	field = (char *)cfg + k->offset;
	if (k->type == KEY_STRING) {
		char **slot = (char **)(void *)field;
		char *copy = strdup(value);

		if (copy == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(*slot);
		*slot = copy;
		return 0;
	}

	{
		char *end;
		long n;

		errno = 0;
		n = strtol(value, &end, k->type == KEY_OCTAL ? 8 : 10);
		if (errno != 0 || end == value || *end != '\0' || n < k->min || n > k->max) {
			if (k->type == KEY_OCTAL)
				snprintf(err, errlen,
				         "%s must be an octal file mode (e.g. 0660), not '%s'", key,
				         value);
			else
				snprintf(err, errlen,
				         "%s must be a whole number from %ld to %ld, not '%s'", key,
				         k->min, k->max, value);
			return -1;
		}
		*(long *)(void *)field = n;
	}
	return 0;
}

const char *config_default_path(void)
{
	static const char *const candidates[] = {"/etc/hms/hms.conf", "conf/hms.conf"};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

void config_init(struct hms_config *cfg)
{
	char err[CONFIG_ERROR_MAX];

	memset(cfg, 0, sizeof(*cfg));
	for (const struct config_key *k = keys; k->name != NULL; k++)
		if (k->default_value != NULL)
			config_set(cfg, k->name, k->default_value, err, sizeof(err));
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int load_file(struct hms_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open configuration file %s: %s", path,
		         strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char msg[CONFIG_ERROR_MAX];
		char *text;
		char *eq;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line is longer than %zu bytes", path, lineno,
			         sizeof(line) - 2);
			fclose(f);
			return -1;
		}
		text = trim(line);
		if (*text == '\0' || *text == '#')
			continue;
		eq = strchr(text, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		if (config_set(cfg, trim(text), trim(eq + 1), msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

static int load_env(struct hms_config *cfg, char *err, size_t errlen)
{
	for (const struct config_key *k = keys; k->name != NULL; k++) {
		char name[64] = "HMS_";
		size_t i;
		const char *value;

		for (i = 0; k->name[i] != '\0' && i + 5 < sizeof(name); i++)
			name[4 + i] = (char)toupper((unsigned char)k->name[i]);
		name[4 + i] = '\0';
		value = getenv(name);
		if (value != NULL) {
			char msg[CONFIG_ERROR_MAX];

			if (config_set(cfg, k->name, value, msg, sizeof(msg)) != 0) {
				snprintf(err, errlen, "environment %s: %s", name, msg);
				return -1;
			}
		}
	}
	return 0;
}

int config_load(struct hms_config *cfg, const char *path, char *err, size_t errlen)
{
	if (path != NULL && *path != '\0' && load_file(cfg, path, err, errlen) != 0)
		return -1;
	return load_env(cfg, err, errlen);
}

/* A list of named secrets: the JWT signing keys, the audit sealing keys. */
struct key_list {
	struct config_jwt_key *keys; /* CONFIG_MAX_JWT_KEYS of them */
	size_t *count;
	const char *text, *file; /* the configured values */
	const char *text_key, *file_key;
};

static void free_keys(struct key_list *list)
{
	for (size_t i = 0; i < *list->count; i++) {
		if (list->keys[i].secret != NULL) {
			explicit_bzero(list->keys[i].secret, list->keys[i].secret_len);
			free(list->keys[i].secret);
		}
	}
	memset(list->keys, 0, CONFIG_MAX_JWT_KEYS * sizeof(*list->keys));
	*list->count = 0;
}

static struct key_list jwt_key_list(struct hms_config *cfg)
{
	return (struct key_list){cfg->jwt,           &cfg->jwt_key_count, cfg->jwt_keys,
	                         cfg->jwt_keys_file, "jwt_keys",          "jwt_keys_file"};
}

static struct key_list seal_key_list(struct hms_config *cfg)
{
	return (struct key_list){cfg->seal,
	                         &cfg->seal_key_count,
	                         cfg->audit_seal_keys,
	                         cfg->audit_seal_keys_file,
	                         "audit_seal_keys",
	                         "audit_seal_keys_file"};
}

static struct key_list download_key_list(struct hms_config *cfg)
{
	return (struct key_list){cfg->download,      &cfg->download_key_count,
	                         cfg->download_keys, cfg->download_keys_file,
	                         "download_keys",    "download_keys_file"};
}

static int kid_is_valid(const char *kid, size_t len)
{
	if (len == 0 || len > CONFIG_JWT_KID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)kid[i]) && kid[i] != '-' && kid[i] != '_' &&
		    kid[i] != '.')
			return 0;
	return 1;
}

/* Parses "kid:secret" entries separated by sep characters. The error never
 * contains the secret itself. */
static int parse_keys(struct key_list *list, const char *text, const char *seps, const char *origin,
                      char *err, size_t errlen)
{
	const char *p = text;

	while (*p != '\0') {
		size_t len = strcspn(p, seps);
		const char *colon;
		const char *secret;
		size_t kid_len, secret_len;

		/* Trim blanks around the entry. */
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0 || *p == '#') {
			p += strcspn(p, seps);
			p += *p != '\0';
			continue;
		}
		colon = memchr(p, ':', len);
		if (colon == NULL) {
			snprintf(err, errlen, "%s: each key must be written 'kid:secret'", origin);
			return -1;
		}
		kid_len = (size_t)(colon - p);
		secret = colon + 1;
		secret_len = len - kid_len - 1;
		if (!kid_is_valid(p, kid_len)) {
			snprintf(err, errlen,
			         "%s: a key id must be 1-%d characters of A-Z a-z 0-9 . _ -",
			         origin, CONFIG_JWT_KID_MAX);
			return -1;
		}
		if (secret_len < CONFIG_MIN_SECRET_BYTES) {
			snprintf(err, errlen,
			         "%s: the secret of key '%.*s' is %zu bytes; at least %d are "
			         "required (generate one with: openssl rand -base64 48)",
			         origin, (int)kid_len, p, secret_len, CONFIG_MIN_SECRET_BYTES);
			return -1;
		}
		if (*list->count == CONFIG_MAX_JWT_KEYS) {
			snprintf(err, errlen, "%s: at most %d keys", origin, CONFIG_MAX_JWT_KEYS);
			return -1;
		}
		for (size_t i = 0; i < *list->count; i++) {
			if (strlen(list->keys[i].kid) == kid_len &&
			    memcmp(list->keys[i].kid, p, kid_len) == 0) {
				snprintf(err, errlen, "%s: key id '%.*s' is used twice", origin,
				         (int)kid_len, p);
				return -1;
			}
		}
		{
			struct config_jwt_key *k = &list->keys[*list->count];

			k->secret = malloc(secret_len);
			if (k->secret == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			memcpy(k->kid, p, kid_len);
			k->kid[kid_len] = '\0';
			memcpy(k->secret, secret, secret_len);
			k->secret_len = secret_len;
			(*list->count)++;
		}
		p += strcspn(p, seps);
		p += *p != '\0';
	}
	return 0;
}

/* Reads the keys from the inline value and the file; 0 keys is not an
 * error here (the caller decides). */
static int load_keys(struct key_list *list, char *err, size_t errlen)
{
	free_keys(list);
	if (list->text != NULL && *list->text != '\0' &&
	    parse_keys(list, list->text, ",", list->text_key, err, errlen) != 0)
		return -1;
	if (list->file != NULL && *list->file != '\0') {
		FILE *f = fopen(list->file, "r");
		char buf[8192];
		size_t n;

		if (f == NULL) {
			snprintf(err, errlen, "%s: cannot open %s: %s", list->file_key, list->file,
			         strerror(errno));
			return -1;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		if (n == sizeof(buf) - 1) {
			snprintf(err, errlen, "%s: %s is larger than %zu bytes", list->file_key,
			         list->file, sizeof(buf) - 2);
			return -1;
		}
		buf[n] = '\0';
		if (strlen(buf) != n) {
			snprintf(err, errlen, "%s: %s contains a NUL byte", list->file_key,
			         list->file);
			return -1;
		}
		n = (size_t)parse_keys(list, buf, "\n", list->file_key, err, errlen);
		explicit_bzero(buf, sizeof(buf));
		if (n != 0)
			return -1;
	}
	return 0;
}

static int load_jwt_keys(struct hms_config *cfg, char *err, size_t errlen)
{
	struct key_list list = jwt_key_list(cfg);

	if (load_keys(&list, err, errlen) != 0)
		return -1;
	if (cfg->jwt_key_count == 0) {
		snprintf(err, errlen,
		         "no JWT signing key: set jwt_keys = kid:secret (or jwt_keys_file, or "
		         "HMS_JWT_KEYS) with a secret of at least %d bytes; there is no built-in "
		         "key",
		         CONFIG_MIN_SECRET_BYTES);
		return -1;
	}
	return 0;
}

int config_load_seal_keys(struct hms_config *cfg, char *err, size_t errlen)
{
	struct key_list list = seal_key_list(cfg);

	if (load_keys(&list, err, errlen) != 0)
		return -1;
	if (cfg->seal_key_count == 0) {
		snprintf(err, errlen,
		         "no audit sealing key: set audit_seal_keys = kid:secret (or "
		         "audit_seal_keys_file, or HMS_AUDIT_SEAL_KEYS) with a secret of at least "
		         "%d bytes, kept outside the database; there is no built-in key",
		         CONFIG_MIN_SECRET_BYTES);
		return -1;
	}
	return 0;
}

static int load_download_keys(struct hms_config *cfg, char *err, size_t errlen)
{
	struct key_list list = download_key_list(cfg);

	if (load_keys(&list, err, errlen) != 0)
		return -1;
	if (cfg->download_key_count == 0) {
		snprintf(err, errlen,
		         "no download signing key: set download_keys = kid:secret (or "
		         "download_keys_file, or HMS_DOWNLOAD_KEYS) with a secret of at least %d "
		         "bytes; there is no built-in key",
		         CONFIG_MIN_SECRET_BYTES);
		return -1;
	}
	return 0;
}

static int is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* "https://host" or "https://host:port" (http too, for a loopback test
 * stack): a scheme, a host of letters, digits, dots and dashes (or a
 * bracketed IPv6 literal), an optional port, and nothing after it. */
static int origin_is_valid(const char *origin)
{
	const char *host;
	size_t host_len;

	if (strncmp(origin, "https://", 8) == 0)
		host = origin + 8;
	else if (strncmp(origin, "http://", 7) == 0)
		host = origin + 7;
	else
		return 0;
	if (strlen(origin) > 255)
		return 0;
	if (*host == '[') {
		const char *close = strchr(host, ']');

		if (close == NULL || close == host + 1 ||
		    strspn(host + 1, "0123456789abcdefABCDEF:.") != (size_t)(close - host - 1))
			return 0;
		host_len = (size_t)(close - host) + 1;
	} else {
		host_len = strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                        "0123456789.-");
		if (host_len == 0)
			return 0;
	}
	if (host[host_len] == '\0')
		return 1;
	if (host[host_len] != ':')
		return 0;
	{
		const char *port = host + host_len + 1;
		size_t digits = strspn(port, "0123456789");

		return digits >= 1 && digits <= 5 && port[digits] == '\0' && atol(port) >= 1 &&
		       atol(port) <= 65535;
	}
}

/* An identifier system for FHIR: unset (derived from public_origin), or an
 * absolute URI - a scheme, ':', then no blanks or controls. */
static bool fhir_system_is_valid(const char *uri)
{
	size_t scheme;

	if (uri == NULL)
		return true;
	scheme = strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (scheme == 0 || !isalpha((unsigned char)uri[0]) || uri[scheme] != ':' ||
	    uri[scheme + 1] == '\0' || strlen(uri) > 200)
		return false;
	for (const char *p = uri; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* listen_address and its allow-list. FastCGI has no authentication and TCP
 * here no encryption: whoever reaches the port could send requests as
 * nginx does (with any X-Request-ID, any REMOTE_ADDR), so a TCP listener
 * without an allow-list is refused rather than defaulted to "everyone". */
static int validate_listener(struct hms_config *cfg, char *err, size_t errlen)
{
	char bad[80];
	int count;

	cfg->listen_sockaddr_len = 0;
	cfg->peer_count = 0;
	count = netaddr_parse_peers(cfg->fastcgi_allowed_peers, cfg->peers, NETADDR_MAX_PEERS, bad,
	                            sizeof(bad));
	if (count < 0) {
		snprintf(err, errlen,
		         "fastcgi_allowed_peers: '%s': each entry must be an IPv4 or IPv6 address "
		         "(nginx's), optionally with a /prefix of 1 or more bits (10.0.0.0/24), at "
		         "most %d entries, separated by commas or blanks",
		         bad, NETADDR_MAX_PEERS);
		return -1;
	}
	cfg->peer_count = (size_t)count;
	if (is_empty(cfg->listen_address))
		return 0;
	if (netaddr_parse_listen(cfg->listen_address, &cfg->listen_sockaddr,
	                         &cfg->listen_sockaddr_len) != 0) {
		cfg->listen_sockaddr_len = 0;
		snprintf(
		    err, errlen,
		    "listen_address must be an IP address and a port, such as 10.0.0.5:9000 or "
		    "[2001:db8::5]:9000 (no host name; port 1 to 65535), not '%.60s'",
		    cfg->listen_address);
		return -1;
	}
	if (cfg->peer_count == 0) {
		snprintf(err, errlen,
		         "listen_address makes hms take FastCGI over TCP, which has neither "
		         "authentication nor encryption: set fastcgi_allowed_peers to the "
		         "address(es) nginx connects from (such as fastcgi_allowed_peers = "
		         "10.0.0.2), and keep the port closed to everyone else");
		return -1;
	}
	return 0;
}

/* web_server: which header hands a download to the web server. Apache's
 * mod_xsendfile takes the file's path, so the attachment directory must be
 * absolute, and without '%' (a later mod_xsendfile percent-decodes it). */
static int validate_web_server(struct hms_config *cfg, char *err, size_t errlen)
{
	if (cfg->web_server != NULL && strcmp(cfg->web_server, "nginx") == 0) {
		cfg->web_server_kind = WEB_SERVER_NGINX;
		return 0;
	}
	if (cfg->web_server == NULL || strcmp(cfg->web_server, "apache") != 0) {
		snprintf(err, errlen, "web_server must be nginx or apache, not '%s'",
		         cfg->web_server == NULL ? "" : cfg->web_server);
		return -1;
	}
	if (is_empty(cfg->attachment_dir) || cfg->attachment_dir[0] != '/' ||
	    strchr(cfg->attachment_dir, '%') != NULL) {
		snprintf(
		    err, errlen,
		    "with web_server = apache, attachment_dir must be an absolute path without "
		    "'%%' (Apache is handed each file by its path)");
		return -1;
	}
	cfg->web_server_kind = WEB_SERVER_APACHE;
	return 0;
}

/* instance_name: unset means the host name, made safe for a file name
 * (letters, digits, '-' and '_'; anything else becomes '_'). */
static int validate_instance_name(struct hms_config *cfg, char *err, size_t errlen)
{
	if (is_empty(cfg->instance_name)) {
		char host[256] = "";
		size_t len;

		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			strcpy(host, "host");
		host[CONFIG_INSTANCE_NAME_MAX] = '\0';
		len = strlen(host);
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)host[i]) && host[i] != '-')
				host[i] = '_';
		free(cfg->instance_name);
		cfg->instance_name = strdup(host);
		if (cfg->instance_name == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	if (strlen(cfg->instance_name) > CONFIG_INSTANCE_NAME_MAX ||
	    strspn(cfg->instance_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                               "0123456789-_") != strlen(cfg->instance_name)) {
		snprintf(err, errlen,
		         "instance_name must be 1 to %d letters, digits, '-' or '_' (it names this "
		         "host's temporary upload files in attachment_dir, which other hosts may "
		         "share: give each host its own; default: the host name)",
		         CONFIG_INSTANCE_NAME_MAX);
		return -1;
	}
	return 0;
}

bool config_listens_on_tcp(const struct hms_config *cfg)
{
	return cfg->listen_sockaddr_len > 0;
}

int config_validate(struct hms_config *cfg, enum config_purpose purpose, char *err, size_t errlen)
{
	if (is_empty(cfg->database_url)) {
		snprintf(err, errlen,
		         "no database: set database_url (a libpq conninfo such as 'host=db1 "
		         "dbname=hms user=hms') or HMS_DATABASE_URL");
		return -1;
	}
	if (cfg->log_level == NULL || log_level_parse(cfg->log_level) < 0) {
		snprintf(err, errlen, "log_level must be debug, info, warn or error, not '%s'",
		         cfg->log_level == NULL ? "" : cfg->log_level);
		return -1;
	}
	if (purpose == CONFIG_FOR_DATABASE)
		return 0;

	if (load_jwt_keys(cfg, err, errlen) != 0 || config_load_seal_keys(cfg, err, errlen) != 0 ||
	    load_download_keys(cfg, err, errlen) != 0)
		return -1;
	if (is_empty(cfg->public_origin) || !origin_is_valid(cfg->public_origin)) {
		snprintf(err, errlen,
		         "public_origin must be the origin clients reach the API at, such as "
		         "https://hms.example.org or https://localhost:8443 (no path): absolute "
		         "links are built from it, never from a request's Host header");
		return -1;
	}
	if (!fhir_system_is_valid(cfg->fhir_mrn_system) ||
	    !fhir_system_is_valid(cfg->fhir_license_system)) {
		snprintf(err, errlen,
		         "fhir_mrn_system and fhir_license_system must be absolute URIs (such as "
		         "https://hospital.example.org/fhir/sid/mrn or urn:oid:1.2.3), without "
		         "spaces");
		return -1;
	}
	if (is_empty(cfg->jwt_issuer) || is_empty(cfg->jwt_audience)) {
		snprintf(err, errlen, "jwt_issuer and jwt_audience must not be empty");
		return -1;
	}
	if (validate_web_server(cfg, err, errlen) != 0)
		return -1;
	if (is_empty(cfg->socket_path) || cfg->socket_path[0] != '/' ||
	    strlen(cfg->socket_path) > 100) {
		snprintf(err, errlen,
		         "socket_path must be an absolute path of at most 100 bytes (it is a unix "
		         "socket)");
		return -1;
	}
	if (validate_listener(cfg, err, errlen) != 0 ||
	    validate_instance_name(cfg, err, errlen) != 0)
		return -1;
	if (!is_empty(cfg->socket_group) && getgrnam(cfg->socket_group) == NULL) {
		snprintf(err, errlen, "socket_group '%s' does not exist", cfg->socket_group);
		return -1;
	}
	if (!is_empty(cfg->worker_user)) {
		const struct passwd *pw = getpwnam(cfg->worker_user);

		if (pw == NULL || pw->pw_uid == 0) {
			snprintf(err, errlen, "worker_user '%s' %s", cfg->worker_user,
			         pw == NULL ? "does not exist" : "is root");
			return -1;
		}
	}
	if (is_empty(cfg->time_zone) || strstr(cfg->time_zone, "..") != NULL ||
	    strlen(cfg->time_zone) > 64 || cfg->time_zone[0] == '/' ||
	    strspn(cfg->time_zone,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
	        strlen(cfg->time_zone)) {
		snprintf(err, errlen, "time_zone must be an IANA zone name such as Africa/Kampala");
		return -1;
	}
	{
		/* PostgreSQL on Debian reads the same tz database. */
		char path[128];

		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", cfg->time_zone);
		if (strcmp(cfg->time_zone, "UTC") != 0 && access(path, R_OK) != 0) {
			snprintf(err, errlen, "time_zone '%s' is not a known IANA zone",
			         cfg->time_zone);
			return -1;
		}
	}
	if (purpose == CONFIG_FOR_CHECK)
		return 0;
	{
		struct stat st;

		if (is_empty(cfg->attachment_dir) || stat(cfg->attachment_dir, &st) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "attachment_dir '%s' is not a directory",
			         cfg->attachment_dir == NULL ? "" : cfg->attachment_dir);
			return -1;
		}
		if (access(cfg->attachment_dir, W_OK | X_OK) != 0) {
			snprintf(err, errlen, "attachment_dir '%s' is not writable by this user",
			         cfg->attachment_dir);
			return -1;
		}
	}
	return 0;
}

long config_worker_count(const struct hms_config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return cfg->workers;
	/* The multiple is measured (docs/performance.md, "Worker count"):
	 * more workers than CPUs did not help, because audited commits queue
	 * on the audit chain's lock, which is held through the WAL flush. */
	n = sysconf(_SC_NPROCESSORS_ONLN);
	n = (n > 0 ? n : 1) * CONFIG_WORKERS_PER_CPU;
	return n < CONFIG_MAX_WORKERS ? n : CONFIG_MAX_WORKERS;
}

void config_free(struct hms_config *cfg)
{
	struct key_list jwt = jwt_key_list(cfg), seal = seal_key_list(cfg),
	                download = download_key_list(cfg);

	free_keys(&jwt);
	free_keys(&seal);
	free_keys(&download);
	if (cfg->jwt_keys != NULL)
		explicit_bzero(cfg->jwt_keys, strlen(cfg->jwt_keys)); /* holds secrets */
	if (cfg->audit_seal_keys != NULL)
		explicit_bzero(cfg->audit_seal_keys, strlen(cfg->audit_seal_keys));
	if (cfg->download_keys != NULL)
		explicit_bzero(cfg->download_keys, strlen(cfg->download_keys));
	for (const struct config_key *k = keys; k->name != NULL; k++) {
		if (k->type == KEY_STRING) {
			char **slot = (char **)(void *)((char *)cfg + k->offset);

			free(*slot);
			*slot = NULL;
		}
	}
}
