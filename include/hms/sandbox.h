/*
 * sandbox.h - what a worker gives up once it has started.
 *
 * sandbox_drop_privileges(): a master started as root runs its workers and
 * sealer as worker_user (its uid, primary group and supplementary groups);
 * started as anyone else, nothing changes.
 *
 * sandbox_install_filter(): on Linux, a seccomp allow-list of the system
 * calls a worker makes after start-up (files in the attachment directory,
 * sockets to nginx and PostgreSQL, fork for the libmagic child, memory,
 * time, signals). execve, execveat, ptrace and the cross-process memory
 * calls kill the process; any other call off the list fails with EPERM.
 * The list is the same in the sanitizer build, plus what the sanitizer
 * runtime itself needs (LeakSanitizer stops the world with ptrace at exit).
 */
#ifndef HMS_SANDBOX_H
#define HMS_SANDBOX_H

#include <stddef.h>

/* 0 on success (or when not root); -1 with a message in err. */
int sandbox_drop_privileges(const char *user, char *err, size_t errlen);

/* 0 once the filter is loaded, 1 where seccomp is not built in, -1 on an
 * error (message in err). The filter applies to this process and every
 * child it forks afterwards, and cannot be lifted. */
int sandbox_install_filter(char *err, size_t errlen);

#endif
