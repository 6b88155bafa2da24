/*
 * sealer.h - the process that seals the audit trail (audit_seal.h). The
 * master starts it beside the workers and restarts it like one, so
 * `make run` and the systemd unit have it with nothing extra; several
 * hosts may each run one (a lock in PostgreSQL lets one seal at a time).
 */
#ifndef HMS_SEALER_H
#define HMS_SEALER_H

struct hms_config;

/* Seals every audit_seal_interval_ms until SIGTERM; returns the exit status. */
int sealer_run(const struct hms_config *cfg);

#endif
