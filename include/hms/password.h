/*
 * password.h - argon2id password hashes (libargon2), in the PHC encoded
 * form "$argon2id$v=19$m=...,t=...,p=...$salt$hash" that carries its own
 * parameters, so raising the cost later keeps old hashes verifiable.
 */
#ifndef HMS_PASSWORD_H
#define HMS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

struct hms_config;

#define PASSWORD_MIN_LENGTH 10
#define PASSWORD_MAX_BYTES  1024 /* bounds the work one request can ask for */
#define PASSWORD_HASH_MAX   160

struct password_cost {
	unsigned memory_kib;
	unsigned iterations;
	unsigned parallelism;
};

/* The argon2id cost the configuration asks for (password_memory_kib,
 * password_iterations, password_parallelism). */
struct password_cost password_cost_from_config(const struct hms_config *cfg);

/* Hashes password with a fresh random salt into out. Returns 0 or -1. */
int password_hash(const struct password_cost *cost, const char *password,
                  char out[PASSWORD_HASH_MAX]);

/* Constant-time check of password against an encoded hash. */
bool password_verify(const char *encoded, const char *password);

/* Makes the dummy hash that password_verify_dummy() checks against, with
 * the configured cost; a worker calls it once at start. Returns 0 or -1. */
int password_init(const struct password_cost *cost);

/* That dummy hash, or NULL before password_init(). */
const char *password_dummy(void);

/* Spends the time of one verification without an account: used for an
 * unknown username so that timing does not reveal which names exist. */
void password_verify_dummy(const struct password_cost *cost, const char *password);

/* True when encoded was not made with cost (nor this argon2 version): a
 * login that verified it stores a new hash, so raising the cost reaches
 * every account that logs in, and a known name's verification takes as
 * long as an unknown one's (the dummy has the configured cost). */
bool password_needs_rehash(const char *encoded, const struct password_cost *cost);

/* A new random password for generated accounts (base64url, 20 characters). */
int password_generate(char out[32]);

#endif
