/*
 * test_sandbox.c - the workers' seccomp allow-list and privilege drop
 * (util/sandbox.c). Each test forks a child that sandboxes itself with the
 * module's own functions, so the test process is never filtered.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms/file_store.h"
#include "hms/file_type.h"
#include "hms/sandbox.h"

/* Runs body in a child that first installs the filter; returns its wait
 * status. The child leaves with _exit: its exit code says which step
 * failed. */
static int in_sandboxed_child(int (*body)(void *), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char err[256];

		if (sandbox_install_filter(err, sizeof(err)) != 0)
			_exit(100);
		_exit(body(arg));
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static int try_execve(void *arg)
{
	char *const argv[] = {"/bin/true", NULL};
	char *const envp[] = {NULL};

	(void)arg;
	execve("/bin/true", argv, envp);
	return 1; /* refused instead of killed: a failure too */
}

Test(sandbox, execve_kills_the_process)
{
	int status = in_sandboxed_child(try_execve, NULL);

	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	          "the child was not killed by SIGSYS (status %d, exit %d)", status,
	          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* What a worker does, under the filter: an attachment written, judged by
 * the libmagic child (fork, pipe, wait), committed and removed; a unix
 * and an IPv4 socket; and what it never needs refused with EPERM. */
static int worker_like(void *arg)
{
	static const char text[] = "Plain text, judged by libmagic in a child.\n";
	const char *dir = arg;
	struct stored_file f;
	const char *mime = NULL;
	struct stat st;
	int fd;

	if (file_store_create(&f, dir, "unit") != HMS_OK ||
	    file_store_write(&f, text, strlen(text)) != HMS_OK)
		return 2;
	if (file_type_of(f.fd, &mime) != HMS_OK || mime == NULL || strcmp(mime, "text/plain") != 0)
		return 3;
	if (file_store_commit(&f) != HMS_OK || fstat(f.fd, &st) != 0 || (st.st_mode & 0777) != 0640)
		return 4;
	file_store_discard(&f);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 5;
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 6;
	close(fd);

	/* Off the list: refused, and the process goes on. */
	errno = 0;
	if (socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0) != -1 || errno != EPERM)
		return 7;
	errno = 0;
	if (chown(dir, (uid_t)-1, (gid_t)-1) != -1 || errno != EPERM)
		return 8;
	errno = 0;
	if (mkdir("/tmp/hms-sandbox-never", 0700) != -1 || errno != EPERM)
		return 9;
	return 0;
}

Test(sandbox, a_worker_s_work_is_allowed_and_the_rest_refused)
{
	char dir[] = "/tmp/hms-sandbox.XXXXXX";
	int status;

	cr_assert_not_null(mkdtemp(dir));
	/* The child runs under the umask the unit sets; files stay 0640. */
	{
		mode_t old = umask(077);

		status = in_sandboxed_child(worker_like, dir);
		umask(old);
	}
	rmdir(dir);
	cr_assert(WIFEXITED(status), "the child was killed by signal %d",
	          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "step %d failed under the filter",
	             WEXITSTATUS(status));
}

static int drop_to_nobody(void *arg)
{
	const struct passwd *pw = getpwnam("nobody");
	char err[256];
	gid_t groups[64];
	int n;

	(void)arg;
	if (sandbox_drop_privileges("nobody", err, sizeof(err)) != 0)
		return 2;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid ||
	    getegid() != pw->pw_gid)
		return 3;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 4;
	n = getgroups(64, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == 0)
			return 5;
	return 0;
}

Test(sandbox, root_drops_to_worker_user_for_good)
{
	int status = 0;
	pid_t pid;

	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		cr_skip_test("needs root and a user 'nobody'");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(drop_to_nobody(NULL));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "step %d failed",
	          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

Test(sandbox, not_root_changes_nothing)
{
	char err[256];

	if (geteuid() == 0)
		cr_skip_test("runs as root");
	cr_assert_eq(sandbox_drop_privileges("nobody", err, sizeof(err)), 0);
	cr_assert_eq(sandbox_drop_privileges(NULL, err, sizeof(err)), 0);
}
