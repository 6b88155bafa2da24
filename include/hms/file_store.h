/*
 * file_store.h - writing a file into the attachment directory so that it is
 * either there whole and durable, or not there at all.
 *
 * A file is written under a temporary name (".upload-<random>"), fsynced,
 * renamed to its generated name (32 random hex digits: nothing of the
 * client's file name reaches the disk) and the directory fsynced, so that a
 * crash leaves either the complete file or a temporary one. Temporary files
 * of a crashed worker are swept later (file_store_sweep).
 * A full disk is HMS_ERR_STORAGE_FULL (507); a directory that is missing,
 * unwritable or failing is HMS_ERR_UNAVAILABLE (503); anything else is
 * HMS_ERR_INTERNAL. Each is logged with its errno.
 *
 * Temporary files of a worker killed mid-upload are removed by the master
 * when it reaps that worker, and any left over (a master killed too) at its
 * next start, once they are old enough that no live upload on another host
 * sharing the directory can still own them.
 */
#ifndef HMS_FILE_STORE_H
#define HMS_FILE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "hms/err.h"

#define FILE_STORE_NAME_LEN 32

/* The web server in front of hms (config key web_server). It changes one
 * thing: how a download answer names the file the web server streams. */
enum web_server {
	WEB_SERVER_NGINX, /* X-Accel-Redirect to its internal location */
	WEB_SERVER_APACHE /* X-Sendfile (mod_xsendfile) with the absolute path */
};

/* The start of every temporary file's name. */
#define FILE_STORE_TEMP_PREFIX ".upload-"

/* ".upload-<instance>.<pid>.<random>": whose it is, so that the master can
 * remove a dead worker's at once, even on storage several hosts share.
 * <instance> is the host's instance_name (config.h), unique among the hosts
 * sharing the directory: two hosts with the same name could each take the
 * other's live upload for a dead worker's (pids are per machine). */
#define FILE_STORE_TEMP_MAX 160

struct stored_file {
	int dir_fd;
	int fd;
	char temp_name[FILE_STORE_TEMP_MAX];
	char name[FILE_STORE_NAME_LEN + 1]; /* the final name, once committed */
	bool committed;
};

/* What an entry of the attachment directory is, by its name alone. */
enum file_store_kind {
	FILE_STORE_STORED,     /* a stored file's name: FILE_STORE_NAME_LEN lowercase hex */
	FILE_STORE_TEMPORARY,  /* FILE_STORE_TEMP_PREFIX...: an upload, live or dead */
	FILE_STORE_IGNORED,    /* ".", ".." and other dot-files (.nfs*, a mount's own) */
	FILE_STORE_UNEXPECTED, /* anything else: nothing hms writes */
};

enum file_store_kind file_store_classify(const char *name);

/* Whether name is a stored file's name (what attachments.storage_name
 * holds): exactly FILE_STORE_NAME_LEN lowercase hex digits. */
bool file_store_is_name(const char *name);

/* How a download answer hands stored file name (in attachment directory
 * dir) to the web server in front, which streams it after the worker's
 * check; the worker never reads it. nginx: "X-Accel-Redirect" with the
 * path of its internal location, /_protected/NAME
 * (deploy/nginx/hms.conf). Apache: "X-Sendfile" with the file's absolute
 * path, which mod_xsendfile serves only inside its XSendFilePath
 * (deploy/apache/hms.conf). Returns the header's name and writes its value
 * into buf; NULL when name is not a stored file's name or buf is too
 * small. */
const char *file_store_handoff(enum web_server server, const char *dir, const char *name, char *buf,
                               size_t buflen);

/* Creates a temporary file in dir, named for this process of the host
 * instance. f is always safe to discard after. */
enum hms_err file_store_create(struct stored_file *f, const char *dir, const char *instance);

/* Appends len bytes. */
enum hms_err file_store_write(struct stored_file *f, const void *data, size_t len);

/* Makes the file durable under its final name (f->name). */
enum hms_err file_store_commit(struct stored_file *f);

/* Removes the file (temporary or committed) and closes everything: the
 * path every failure takes, so that nothing is left behind. */
void file_store_discard(struct stored_file *f);

/* Closes a committed file, keeping it. */
void file_store_close(struct stored_file *f);

/* Removes temporary files in dir last written more than min_age_seconds
 * ago: left by a worker that died mid-upload. Returns how many. */
int file_store_sweep(const char *dir, long min_age_seconds);

/* Removes the temporary files of the worker pid of the host instance (the
 * master calls it when it reaps a worker that did not exit cleanly); other
 * hosts' files, in-flight or not, are left alone. */
int file_store_sweep_worker(const char *dir, const char *instance, long pid);

#endif
