/*
 * sandbox.c - privilege drop and the workers' seccomp allow-list (see
 * sandbox.h).
 *
 * The list is what a worker does after start-up, traced on the stack and
 * read from the code: accept and answer on the FastCGI socket, talk to
 * PostgreSQL (a unix socket or TCP, reconnecting after a failover, with
 * name resolution), write, fsync, rename and unlink attachment files, fork
 * the short-lived libmagic child (util/file_type.c) and wait for it, and
 * the memory, time, signal and randomness calls of the C library, OpenSSL
 * and libpq. Everything it never does - exec, ptrace, mount, module and
 * key management, namespaces, raw sockets, chown, setuid - is off the list.
 */
#include "hms/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int sandbox_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || *user == '\0')
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "worker_user '%s' does not exist", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "worker_user '%s' is root", user);
		return -1;
	}
	/* Groups first: after setuid there is no right left to change them. */
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot become worker_user '%s': %s", user, strerror(errno));
		return -1;
	}
	/* There is no way back. */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "still able to regain root after dropping to '%s'", user);
		return -1;
	}
	return 0;
}

#if defined(__linux__) && !defined(HMS_NO_SECCOMP)

#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

/* Allowed with any arguments. A name this architecture lacks is skipped. */
static const char *const allowed[] = {
    /* files and descriptors */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "lseek",
    "close",
    "close_range",
    "openat",
    "open",
    "fstat",
    "newfstatat",
    "stat",
    "lstat",
    "statx",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents64",
    "fcntl",
    "ioctl",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "fsync",
    "fdatasync",
    "ftruncate",
    "fchmod",
    "renameat",
    "renameat2",
    "rename",
    "unlinkat",
    "unlink",
    "fadvise64",
    "umask",
    "getcwd",
    /* sockets (socket() itself below, by family) */
    "accept",
    "accept4",
    "connect",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    /* memory */
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "brk",
    "madvise",
    /* signals */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigtimedwait",
    "sigaltstack",
    "restart_syscall",
    "kill",
    "tgkill",
    "tkill",
    /* time */
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "nanosleep",
    "clock_nanosleep",
    /* the process and its libmagic child (fork is clone; threads clone3) */
    "getpid",
    "gettid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getgroups",
    "getresuid",
    "getresgid",
    "clone",
    "clone3",
    "wait4",
    "waitid",
    "exit",
    "exit_group",
    "set_robust_list",
    "get_robust_list",
    "set_tid_address",
    "rseq",
    "futex",
    "sched_yield",
    "sched_getaffinity",
    "getrlimit",
    "getrusage",
    "uname",
    "sysinfo",
    "getrandom",
    "membarrier",
};

/* Kill the process: no worker ever runs another program or reads or
 * writes another process's memory. Caught, it dies with SIGSYS and the
 * master logs worker_died and starts another. */
static const char *const fatal[] = {
    "execve", "execveat",
#ifndef SANITIZER_BUILD
    "ptrace", "process_vm_readv", "process_vm_writev",
#endif
};

/* The sanitizer runtime's own needs: LeakSanitizer's check at exit runs a
 * tracer (clone) that attaches to the threads with ptrace and reads their
 * registers; it may call prctl and prlimit with other arguments. */
static const char *const sanitizer_only[] = {
#ifdef SANITIZER_BUILD
    "ptrace",  "process_vm_readv", "prctl",          "prlimit64",          "setrlimit",
    "mincore", "personality",      "sched_getparam", "sched_getscheduler",
#else
    NULL,
#endif
};

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, char *err, size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	rc = seccomp_rule_add(ctx, action, nr, 0);
	if (rc != 0) {
		snprintf(err, errlen, "seccomp rule for %s: %s", name, strerror(-rc));
		return -1;
	}
	return 0;
}

int sandbox_install_filter(char *err, size_t errlen)
{
	/* Off the list: refused, the process goes on. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = 0;

	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc = add(ctx, SCMP_ACT_ALLOW, allowed[i], err, errlen);
	for (size_t i = 0; rc == 0 && i < sizeof(fatal) / sizeof(fatal[0]); i++)
		rc = add(ctx, SCMP_ACT_KILL_PROCESS, fatal[i], err, errlen);
	for (size_t i = 0; rc == 0 && i < sizeof(sanitizer_only) / sizeof(sanitizer_only[0]); i++)
		if (sanitizer_only[i] != NULL)
			rc = add(ctx, SCMP_ACT_ALLOW, sanitizer_only[i], err, errlen);
	if (rc != 0)
		goto out;

	/* Sockets of the three families a worker uses (nginx's unix socket,
	 * PostgreSQL's unix or TCP socket, DNS): no raw, packet or netlink. */
	{
		static const int families[] = {AF_UNIX, AF_INET, AF_INET6};

		for (size_t i = 0; rc == 0 && i < sizeof(families) / sizeof(families[0]); i++)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	}
#ifndef SANITIZER_BUILD
	/* The libmagic child's PR_SET_PDEATHSIG and RLIMIT_CPU on itself. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)PR_SET_PDEATHSIG));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
		                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)0));
	if (rc == 0)
		rc = add(ctx, SCMP_ACT_ALLOW, "setrlimit", err, errlen);
#endif
	if (rc != 0) {
		snprintf(err, errlen, "seccomp rule: %s", strerror(rc < 0 ? -rc : rc));
		goto out;
	}
	/* libseccomp sets no_new_privs first (SCMP_FLTATR_CTL_NNP). */
	rc = seccomp_load(ctx);
	if (rc != 0)
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
out:
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

#else

int sandbox_install_filter(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 1;
}

#endif
