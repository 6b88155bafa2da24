/*
 * file_type.c - the allow-list of upload types, judged by libmagic in a
 * short-lived child process.
 *
 * libmagic parses untrusted bytes with a large rule database: it has had
 * memory-safety bugs, and judging one text file touches most of its 8 MB
 * database. So each judgement runs in a forked child that loads the
 * database, reads the file, writes the type to a pipe and exits: a crash or
 * a hang there costs that upload (500), never the worker, and the worker's
 * own memory stays what it was (the database is never mapped into it).
 * Uploads are rare next to reads; the fork costs well under a millisecond.
 */
#include "hms/file_type.h"

#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms/log.h"

/* libmagic's answers we accept, and the type we store and serve. */
static const struct {
	const char *detected;
	const char *stored;
} allowed[] = {
    {"application/pdf", "application/pdf"},
    {"image/png", "image/png"},
    {"image/jpeg", "image/jpeg"},
    {"text/plain", "text/plain"},
    {"application/dicom", "application/dicom"},
};

/* How much of a file libmagic may read: every allowed type is recognised
 * from its first bytes (DICOM's "DICM" sits at offset 128); plain text is
 * judged on this much of it. */
#define MAGIC_BYTES_MAX (1024 * 1024)
/* The longest MIME type we read back, and how long a judgement may take. */
#define MIME_MAX         127
#define CHILD_TIMEOUT_MS 10000

/* In the child: judge fd, write the MIME type to out, exit. */
static void judge(int fd, int out)
{
	size_t bytes_max = MAGIC_BYTES_MAX;
	struct rlimit cpu = {5, 5};
	magic_t m;
	const char *detected = NULL;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setrlimit(RLIMIT_CPU, &cpu);
	/* Compressed files are judged as they are (not unpacked); nothing is
	 * allowed that would need it. */
	m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
	if (m != NULL && magic_load(m, NULL) == 0 &&
	    magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max) == 0 &&
	    lseek(fd, 0, SEEK_SET) == 0)
		detected = magic_descriptor(m, fd);
	if (detected != NULL && strlen(detected) <= MIME_MAX &&
	    write(out, detected, strlen(detected)) == (ssize_t)strlen(detected))
		_exit(0);
	_exit(1);
}

/* Reads the child's answer into buf; -1 on a timeout or an error. */
static int read_answer(int in, char buf[MIME_MAX + 1])
{
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = {.fd = in, .events = POLLIN};
		int rc = poll(&pfd, 1, CHILD_TIMEOUT_MS);
		ssize_t n;

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return -1;
		n = read(in, buf + got, MIME_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0 || (got += (size_t)n) == MIME_MAX)
			break;
	}
	buf[got] = '\0';
	return 0;
}

enum hms_err file_type_of(int fd, const char **mime)
{
	char detected[MIME_MAX + 1];
	int pipe_fds[2], status = 0, answered;
	pid_t child;

	*mime = NULL;
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		return HMS_ERR_INTERNAL;
	child = fork();
	if (child < 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		log_event(LOG_ERROR, "file_type_fork_failed", "i:errno", errno, LOG_END);
		return HMS_ERR_INTERNAL;
	}
	if (child == 0) {
		close(pipe_fds[0]);
		judge(fd, pipe_fds[1]);
	}
	close(pipe_fds[1]);
	answered = read_answer(pipe_fds[0], detected);
	close(pipe_fds[0]);
	if (answered != 0)
		kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (answered != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_event(LOG_ERROR, "file_type_failed", "i:exit_status",
		          WIFEXITED(status) ? WEXITSTATUS(status) : -1, "i:signal",
		          WIFSIGNALED(status) ? WTERMSIG(status) : 0, LOG_END);
		return HMS_ERR_INTERNAL;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(detected, allowed[i].detected) == 0)
			*mime = allowed[i].stored;
	return HMS_OK;
}

const char *file_type_allowed_names(void)
{
	return "PDF, PNG, JPEG, plain text or DICOM";
}
