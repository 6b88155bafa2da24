/*
 * seed.h - demo data for development and benchmarks (hmsctl seed): random
 * but plausible patients and doctors, loaded with COPY in one transaction
 * per table, with a progress bar when the output is a terminal.
 */
#ifndef HMS_SEED_H
#define HMS_SEED_H

#include <libpq-fe.h>
#include <stddef.h>

/* Loads count rows; returns 0 or -1 with a message in err. */
int seed_patients(PGconn *conn, long count, unsigned long long random_seed, char *err,
                  size_t errlen);
int seed_doctors(PGconn *conn, long count, unsigned long long random_seed, char *err,
                 size_t errlen);

#endif
