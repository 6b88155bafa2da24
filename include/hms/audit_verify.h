/*
 * audit_verify.h - reads the audit trail back and checks its hash chain
 * (hmsctl audit-verify).
 *
 * Rows written before seals existed (schema/008_audit_seals.sql) carry a
 * hash that covers their columns and the hash of the row before
 * (schema/002_identity.sql), so a row removed, inserted, reordered or
 * changed breaks the chain from there on. Later rows are checked through
 * their seals (audit_seal.h), the first of which links to this chain's head.
 */
#ifndef HMS_AUDIT_VERIFY_H
#define HMS_AUDIT_VERIFY_H

#include <libpq-fe.h>
#include <stddef.h>

/* Walks the chained rows in id order, recomputing each row's hash from its
 * columns and checking each row links to the one before. Returns 0 when
 * intact (rows and head hash filled), 1 when broken (message in err), -1
 * when the database could not be read. */
int audit_verify_chain(PGconn *conn, long long *rows, char head[65], char *err, size_t errlen);

#endif
