/*
 * worker.h - one pre-forked worker: accept a FastCGI request, run it through
 * the pipeline, answer, reset the arena, repeat. SIGTERM lets the current
 * request finish and then ends the worker.
 */
#ifndef HMS_WORKER_H
#define HMS_WORKER_H

struct hms_config;

/* Serves requests on listen_fd until told to stop; returns the exit status. */
int worker_run(const struct hms_config *cfg, int listen_fd);

#endif
