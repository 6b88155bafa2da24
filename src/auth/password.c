/*
 * password.c - argon2id through libargon2 (OWASP: m = 19 MiB, t = 2, p = 1
 * by default; configurable). argon2id_verify compares in constant time.
 */
#include "hms/password.h"

#include <argon2.h>
#include <stdio.h>
#include <string.h>

#include "hms/base64url.h"
#include "hms/config.h"
#include "hms/random.h"

#define SALT_BYTES 16
#define HASH_BYTES 32

struct password_cost password_cost_from_config(const struct hms_config *cfg)
{
	struct password_cost cost = {(unsigned)cfg->password_memory_kib,
	                             (unsigned)cfg->password_iterations,
	                             (unsigned)cfg->password_parallelism};

	return cost;
}

int password_hash(const struct password_cost *cost, const char *password,
                  char out[PASSWORD_HASH_MAX])
{
	unsigned char salt[SALT_BYTES];
	size_t len = strlen(password);

	if (len > PASSWORD_MAX_BYTES || random_bytes(salt, sizeof(salt)) != 0)
		return -1;
	if (argon2id_hash_encoded(cost->iterations, cost->memory_kib, cost->parallelism, password,
	                          len, salt, sizeof(salt), HASH_BYTES, out,
	                          PASSWORD_HASH_MAX) != ARGON2_OK)
		return -1;
	return 0;
}

bool password_verify(const char *encoded, const char *password)
{
	size_t len = strlen(password);

	if (len > PASSWORD_MAX_BYTES || strncmp(encoded, "$argon2id$", 10) != 0)
		return false;
	return argon2id_verify(encoded, password, len) == ARGON2_OK;
}

/* Made with the configured cost by password_init() when a worker starts,
 * so that even the first unknown username a worker sees costs one
 * verification, like a real account's, and not a hash and a verification. */
static char dummy[PASSWORD_HASH_MAX];

int password_init(const struct password_cost *cost)
{
	return password_hash(cost, "not a password of anyone", dummy);
}

const char *password_dummy(void)
{
	return dummy[0] != '\0' ? dummy : NULL;
}

void password_verify_dummy(const struct password_cost *cost, const char *password)
{
	/* Only if password_init() failed at start: better late than a
	 * verification that takes no time at all. */
	if (dummy[0] == '\0' && password_init(cost) != 0)
		return;
	(void)password_verify(dummy, password);
}

bool password_needs_rehash(const char *encoded, const struct password_cost *cost)
{
	unsigned version, m, t, p;
	int end = 0;

	if (sscanf(encoded, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &version, &m, &t, &p, &end) != 4 ||
	    end == 0)
		return true; /* not a form we would write today */
	return version != ARGON2_VERSION_NUMBER || m != cost->memory_kib || t != cost->iterations ||
	       p != cost->parallelism;
}

int password_generate(char out[32])
{
	unsigned char raw[15];

	if (random_bytes(raw, sizeof(raw)) != 0)
		return -1;
	base64url_encode(raw, sizeof(raw), out);
	return 0;
}
