/*
 * config.h - runtime configuration.
 *
 * Values come from built-in defaults, then the key = value file, then HMS_*
 * environment variables (HMS_DATABASE_URL overrides database_url, ...).
 * config_validate() refuses to start with a missing database URL, a missing
 * or weak (< 32 byte) signing key, or an unwritable attachment directory:
 * there is no built-in fallback secret.
 */
#ifndef HMS_CONFIG_H
#define HMS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "hms/file_store.h"
#include "hms/netaddr.h"

#define CONFIG_MAX_JWT_KEYS      8
#define CONFIG_JWT_KID_MAX       32
#define CONFIG_MIN_SECRET_BYTES  32
#define CONFIG_ERROR_MAX         512
#define CONFIG_INSTANCE_NAME_MAX 63

/* A named secret ("kid:secret"): a JWT signing key or an audit sealing key. */
struct config_jwt_key {
	char kid[CONFIG_JWT_KID_MAX + 1];
	unsigned char *secret;
	size_t secret_len;
};

struct hms_config {
	char *database_url;
	char *jwt_keys;      /* "kid:secret,kid:secret" - first signs, all verify */
	char *jwt_keys_file; /* same, one key per line */
	/* The audit trail's sealing keys, like jwt_keys: the first seals, all
	 * verify. Kept outside the database, so that a rewrite of the trail by
	 * someone with full database access is detected. */
	char *audit_seal_keys;
	char *audit_seal_keys_file;
	long audit_seal_interval_ms; /* how often the sealer seals new rows */
	/* The keys that sign attachment download URLs, like jwt_keys: the
	 * first signs, all verify (the kid travels in the signature). */
	char *download_keys;
	char *download_keys_file;
	long download_url_seconds; /* how long a download_url stays valid */
	/* "https://hms.example.org": absolute links (next, previous,
	 * download_url) are built from it, never from the Host header. */
	char *public_origin;
	/* FHIR identifier systems of the MRN and the doctors' licence numbers;
	 * NULL: <public_origin>/fhir/sid/mrn and .../license. */
	char *fhir_mrn_system;
	char *fhir_license_system;
	char *jwt_issuer;
	char *jwt_audience;
	char *admin_database_url; /* hmsctl (migrations, accounts); defaults to database_url */
	long password_memory_kib; /* argon2id cost */
	long password_iterations;
	long password_parallelism;
	/* The back-off on password guesses (backoff.h): failures of one name
	 * from one address, of one address (any name), of one name (any
	 * address) before each blocks. */
	long login_failures_before_backoff;
	long login_address_failures_before_backoff;
	long login_account_failures_before_backoff;
	long housekeeping_interval_seconds; /* the sealer's pruning pass */
	long access_token_minutes;
	long refresh_token_days;
	char *attachment_dir;
	char *web_server; /* "nginx" or "apache": see enum web_server */
	long max_upload_bytes;
	long max_body_bytes;
	long json_max_depth;
	long workers; /* 0 = CONFIG_WORKERS_PER_CPU per online CPU */
	char *socket_path;
	/* FastCGI over TCP instead of socket_path, for nginx on another
	 * machine: "10.0.0.5:9000" or "[2001:db8::5]:9000"; NULL = socket_path.
	 * It has neither authentication nor encryption, so it needs
	 * fastcgi_allowed_peers: the addresses nginx connects from. */
	char *listen_address;
	char *fastcgi_allowed_peers;
	/* Names this host's temporary upload files in attachment_dir, which
	 * several hosts may share; NULL: the host name (config_validate). */
	char *instance_name;
	long socket_mode;
	char *socket_group;
	char *worker_user; /* started as root: workers and sealer run as this user */
	long listen_backlog;
	char *time_zone;
	char *log_level;
	long shutdown_timeout_seconds;
	char *schema_dir;
	long statement_timeout_ms; /* every worker statement; 0 = no limit */
	long list_count_cap;       /* a list's count stops (and says so) past this */
	long list_max_offset;      /* ?page= may start at most this many rows in */

	/* Derived by config_validate(). */
	struct config_jwt_key jwt[CONFIG_MAX_JWT_KEYS];
	size_t jwt_key_count;
	struct config_jwt_key seal[CONFIG_MAX_JWT_KEYS]; /* config_load_seal_keys() */
	size_t seal_key_count;
	struct config_jwt_key download[CONFIG_MAX_JWT_KEYS];
	size_t download_key_count;
	struct sockaddr_storage listen_sockaddr;      /* listen_address, when set */
	socklen_t listen_sockaddr_len;                /* 0: socket_path */
	struct netaddr_peer peers[NETADDR_MAX_PEERS]; /* fastcgi_allowed_peers */
	size_t peer_count;
	enum web_server web_server_kind; /* web_server */
};

/* What the caller is about to do decides what must be configured. */
enum config_purpose {
	CONFIG_FOR_SERVER,   /* everything */
	CONFIG_FOR_DATABASE, /* hmsctl: only the database (and schema dir) */
	CONFIG_FOR_CHECK     /* hmsctl check: everything but attachment_dir,
	                        which it looks at in more detail itself */
};

/* Whether the FastCGI socket is TCP (listen_address), after
 * config_validate. */
bool config_listens_on_tcp(const struct hms_config *cfg);

/* The file to read when neither --config nor HMS_CONFIG names one:
 * /etc/hms/hms.conf, else conf/hms.conf (a checkout), else NULL. */
const char *config_default_path(void);

/* Fills cfg with defaults. */
void config_init(struct hms_config *cfg);

/* Applies the file at path (NULL or "" = none) and then the environment.
 * Returns 0, or -1 with a message in err. */
int config_load(struct hms_config *cfg, const char *path, char *err, size_t errlen);

/* Sets one key from text, as the file and the environment do. */
int config_set(struct hms_config *cfg, const char *key, const char *value, char *err,
               size_t errlen);

/* Checks what the purpose needs; fills the derived fields. */
int config_validate(struct hms_config *cfg, enum config_purpose purpose, char *err, size_t errlen);

/* Loads the audit sealing keys (config_validate does for the server;
 * hmsctl's audit commands call it themselves). */
int config_load_seal_keys(struct hms_config *cfg, char *err, size_t errlen);

/* The worker count to start: workers, or when it is 0, CONFIG_WORKERS_PER_CPU
 * per online CPU (at most CONFIG_MAX_WORKERS). */
#define CONFIG_WORKERS_PER_CPU 2
#define CONFIG_MAX_WORKERS     256

long config_worker_count(const struct hms_config *cfg);

void config_free(struct hms_config *cfg);

#endif
