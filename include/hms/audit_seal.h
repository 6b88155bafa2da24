/*
 * audit_seal.h - the audit trail's tamper evidence (schema/008_audit_seals.sql).
 *
 * Requests append audit rows without waiting on each other; a sealer
 * (src/sealer.c) periodically seals every row whose transaction has ended:
 * a seal lists the rows of one range of transaction ids with the SHA-256 of
 * each row's canonical text, chained to the previous seal and MACed with
 * HMAC-SHA256 under a key the database never holds. hmsctl audit-verify
 * recomputes everything and names each row that was changed, removed or
 * inserted after sealing.
 */
#ifndef HMS_AUDIT_SEAL_H
#define HMS_AUDIT_SEAL_H

#include <libpq-fe.h>
#include <stddef.h>

struct config_jwt_key;

#define AUDIT_SEAL_MAC_HEX 64

/* Rows of one seal at most (a backlog is sealed in several). */
#define AUDIT_SEAL_MAX_ROWS 10000

struct audit_seal_result {
	long long seal_id; /* the seal written, 0 when there was nothing to seal */
	long long rows;    /* rows it covers */
	char mac[AUDIT_SEAL_MAC_HEX + 1];
};

/* One sealing pass on conn (outside any transaction): seals the rows of
 * every transaction that has ended since the last seal, with key. Returns
 * 0 (out->seal_id 0 when there was nothing to seal or another sealer holds
 * the lock), or -1 with a message in err. */
int audit_seal_pass(PGconn *conn, const struct config_jwt_key *key, struct audit_seal_result *out,
                    char *err, size_t errlen);

struct audit_seal_report {
	long long seals;
	long long sealed_rows;
	long long unsealed_rows;
	double unsealed_seconds; /* age of the oldest unsealed row */
	long long problems;
	char head[AUDIT_SEAL_MAC_HEX + 1]; /* the last seal's MAC */
};

/* Called with each problem found, one sentence. */
typedef void (*audit_problem_fn)(void *arg, const char *problem);

/* Verifies every seal and every sealed row against keys[0..count), the
 * first seal linking to legacy_head (the per-row chain's head hash, from
 * audit_verify_chain()). Returns 0 when intact, 1 when problems were found
 * (each reported), -1 when the database could not be read (err). */
int audit_seal_verify(PGconn *conn, const struct config_jwt_key *keys, size_t count,
                      const char *legacy_head, struct audit_seal_report *report,
                      audit_problem_fn problem, void *arg, char *err, size_t errlen);

/* The MAC of a seal (exposed for unit tests): HMAC-SHA256 over the seal's
 * canonical text, as lowercase hex. */
void audit_seal_mac(const struct config_jwt_key *key, long long id, long long from_txid,
                    long long to_txid, long long rows, const unsigned char *row_hashes,
                    const char *prev_mac, char out[AUDIT_SEAL_MAC_HEX + 1]);

#endif
