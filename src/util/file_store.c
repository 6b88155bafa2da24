/*
 * file_store.c - temporary file, fsync, rename, directory fsync.
 */
#include "hms/file_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hms/log.h"
#include "hms/random.h"

/* "<instance>.<pid>." for a process's temporary names. The instance name
 * (config.h: instance_name, the host name by default) is already limited
 * to letters, digits, '-' and '_', so no '/' or '.' reaches a file name
 * and one owner's prefix is never the start of another's. */
static void owner_prefix(const char *instance, long pid, char *out, size_t size)
{
	snprintf(out, size, FILE_STORE_TEMP_PREFIX "%s.%ld.", instance, pid);
}

static enum hms_err io_error(const char *event, int err)
{
	if (err == ENOSPC || err == EDQUOT) {
		log_event(LOG_WARN, "attachment_storage_full", "s:step", event, LOG_END);
		return HMS_ERR_STORAGE_FULL;
	}
	/* The directory gone, unwritable or failing: the service, not the
	 * request, is at fault, and it may come back. */
	if (err == EACCES || err == EPERM || err == EROFS || err == ENOENT || err == EIO) {
		log_event(LOG_ERROR, "attachment_storage_unavailable", "s:step", event, "i:errno",
		          err, LOG_END);
		return HMS_ERR_UNAVAILABLE;
	}
	log_event(LOG_ERROR, "attachment_io_failed", "s:step", event, "i:errno", err, LOG_END);
	return HMS_ERR_INTERNAL;
}

bool file_store_is_name(const char *name)
{
	size_t i;

	for (i = 0; i < FILE_STORE_NAME_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return name[i] == '\0';
}

enum file_store_kind file_store_classify(const char *name)
{
	if (strncmp(name, FILE_STORE_TEMP_PREFIX, strlen(FILE_STORE_TEMP_PREFIX)) == 0)
		return FILE_STORE_TEMPORARY;
	if (name[0] == '.')
		return FILE_STORE_IGNORED;
	return file_store_is_name(name) ? FILE_STORE_STORED : FILE_STORE_UNEXPECTED;
}

static int random_name(char out[FILE_STORE_NAME_LEN + 1])
{
	unsigned char raw[FILE_STORE_NAME_LEN / 2];

	if (random_bytes(raw, sizeof(raw)) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

const char *file_store_handoff(enum web_server server, const char *dir, const char *name, char *buf,
                               size_t buflen)
{
	size_t dir_len = dir != NULL ? strlen(dir) : 0;
	int n;

	/* Only a generated name: nothing else under the directory (or above
	 * it) can ever be handed out. */
	if (!file_store_is_name(name))
		return NULL;
	if (server == WEB_SERVER_NGINX) {
		n = snprintf(buf, buflen, "/_protected/%s", name);
		return n >= 0 && (size_t)n < buflen ? "X-Accel-Redirect" : NULL;
	}
	if (dir_len == 0 || dir[0] != '/')
		return NULL;
	while (dir_len > 0 && dir[dir_len - 1] == '/') /* no "//" in the path */
		dir_len--;
	n = snprintf(buf, buflen, "%.*s/%s", (int)dir_len, dir, name);
	return n >= 0 && (size_t)n < buflen ? "X-Sendfile" : NULL;
}

enum hms_err file_store_create(struct stored_file *f, const char *dir, const char *instance)
{
	char suffix[FILE_STORE_NAME_LEN + 1], owner[FILE_STORE_TEMP_MAX - FILE_STORE_NAME_LEN];

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dir_fd < 0)
		return io_error("open_dir", errno);
	if (random_name(suffix) != 0)
		return HMS_ERR_INTERNAL;
	owner_prefix(instance, (long)getpid(), owner, sizeof(owner));
	snprintf(f->temp_name, sizeof(f->temp_name), "%s%s", owner, suffix);
	/* Read back by libmagic; readable by nginx's group (the directory is
	 * setgid to it), by no one else. */
	f->fd = openat(f->dir_fd, f->temp_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	               0640);
	if (f->fd < 0)
		return io_error("create", errno);
	/* 0640 whatever the umask: the unit runs with UMask=0077, which would
	 * leave nginx's group without read. */
	if (fchmod(f->fd, 0640) != 0)
		return io_error("chmod", errno);
	return HMS_OK;
}

enum hms_err file_store_write(struct stored_file *f, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(f->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_error("write", errno);
		p += n;
		len -= (size_t)n;
	}
	return HMS_OK;
}

enum hms_err file_store_commit(struct stored_file *f)
{
	if (fsync(f->fd) != 0)
		return io_error("fsync", errno);
	if (random_name(f->name) != 0)
		return HMS_ERR_INTERNAL;
	/* renameat2 with RENAME_NOREPLACE would refuse an existing name; 128
	 * random bits make a collision as likely as guessing a key, and the
	 * database's unique storage_name would refuse it anyway. */
	if (renameat(f->dir_fd, f->temp_name, f->dir_fd, f->name) != 0)
		return io_error("rename", errno);
	f->committed = true;
	if (fsync(f->dir_fd) != 0)
		return io_error("fsync_dir", errno);
	return HMS_OK;
}

static void close_all(struct stored_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->dir_fd >= 0)
		close(f->dir_fd);
	f->fd = -1;
	f->dir_fd = -1;
}

void file_store_discard(struct stored_file *f)
{
	if (f->dir_fd >= 0) {
		const char *name = f->committed ? f->name : f->temp_name;

		if (name[0] != '\0' && unlinkat(f->dir_fd, name, 0) != 0 && errno != ENOENT)
			log_event(LOG_ERROR, "attachment_unlink_failed", "i:errno", errno, LOG_END);
		fsync(f->dir_fd);
	}
	close_all(f);
}

void file_store_close(struct stored_file *f)
{
	close_all(f);
}

int file_store_sweep_worker(const char *dir, const char *instance, long pid)
{
	char owner[FILE_STORE_TEMP_MAX];
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;

	if (d == NULL)
		return 0;
	owner_prefix(instance, pid, owner, sizeof(owner));
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, owner, strlen(owner)) == 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	if (removed > 0)
		fsync(dirfd(d));
	closedir(d);
	return removed;
}

int file_store_sweep(const char *dir, long min_age_seconds)
{
	DIR *d = opendir(dir);
	time_t cutoff = time(NULL) - min_age_seconds;
	struct dirent *e;
	int removed = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strncmp(e->d_name, FILE_STORE_TEMP_PREFIX, strlen(FILE_STORE_TEMP_PREFIX)) !=
		        0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    st.st_mtime > cutoff)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	if (removed > 0)
		fsync(dirfd(d));
	closedir(d);
	return removed;
}
