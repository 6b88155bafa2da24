/*
 * test_file_store.c - the temporary upload files of src/util/file_store.c
 * in an attachment directory that several hosts share: a master reaping a
 * dead worker removes that worker's files only, never another host's
 * in-flight upload, even when both hosts have the same host name and the
 * same pids (two VMs cloned from one image), as long as their instance
 * names differ.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hms/file_store.h"

static char dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/hms-unit-file-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(file_store, .init = setup, .fini = teardown);

static bool exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* A temporary file as a worker of another host with this pid would name it. */
static void make_file(const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("partial upload", f);
	fclose(f);
}

Test(file_store, temp_name_carries_the_instance_and_pid)
{
	struct stored_file f;
	char prefix[64];

	cr_assert_eq(file_store_create(&f, dir, "host1"), HMS_OK);
	snprintf(prefix, sizeof(prefix), ".upload-host1.%ld.", (long)getpid());
	cr_assert_eq(strncmp(f.temp_name, prefix, strlen(prefix)), 0, "%s", f.temp_name);
	cr_assert_eq(strlen(f.temp_name), strlen(prefix) + FILE_STORE_NAME_LEN);
	file_store_discard(&f);
	cr_assert_not(exists(f.temp_name));
}

Test(file_store, reaping_a_worker_leaves_other_hosts_uploads)
{
	struct stored_file mine;
	char other[128], longer[128], other_pid[128];
	long pid = (long)getpid();

	/* This host (host1) has a worker with this pid mid-upload; so has
	 * host2, on another machine with the same pids; host10's name starts
	 * like host1's; and host1 has another worker too. */
	cr_assert_eq(file_store_create(&mine, dir, "host1"), HMS_OK);
	snprintf(other, sizeof(other), ".upload-host2.%ld.%032d", pid, 0);
	snprintf(longer, sizeof(longer), ".upload-host10.%ld.%032d", pid, 0);
	snprintf(other_pid, sizeof(other_pid), ".upload-host1.%ld.%032d", pid + 1, 0);
	make_file(other);
	make_file(longer);
	make_file(other_pid);

	/* host2's master reaps its worker with this pid. */
	cr_assert_eq(file_store_sweep_worker(dir, "host2", pid), 1);
	cr_assert_not(exists(other));
	cr_assert(exists(mine.temp_name), "host1's in-flight upload must survive host2's reaping");
	cr_assert(exists(longer));
	cr_assert(exists(other_pid));

	/* host1's master reaps its worker with this pid. */
	cr_assert_eq(file_store_sweep_worker(dir, "host1", pid), 1);
	cr_assert_not(exists(mine.temp_name));
	cr_assert(exists(longer), "host10's file is not host1's");
	cr_assert(exists(other_pid), "another worker's file is not this one's");
	file_store_close(&mine);
}

Test(file_store, start_up_sweep_takes_only_old_files)
{
	struct stored_file fresh;
	char old[128], path[256];
	struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};

	/* Any host's, once old enough that no upload can still be writing it. */
	cr_assert_eq(file_store_create(&fresh, dir, "host1"), HMS_OK);
	snprintf(old, sizeof(old), ".upload-host2.%d.%032d", 42, 0);
	make_file(old);
	snprintf(path, sizeof(path), "%s/%s", dir, old);
	cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	make_file("0123456789abcdef0123456789abcdef"); /* a stored attachment */

	cr_assert_eq(file_store_sweep(dir, 3600), 1);
	cr_assert_not(exists(old));
	cr_assert(exists(fresh.temp_name));
	cr_assert(exists("0123456789abcdef0123456789abcdef"));
	file_store_discard(&fresh);
}

/* What hmsctl attachments-check makes of each name in the directory. */
Test(file_store, names_are_classified)
{
	static const struct {
		const char *name;
		enum file_store_kind kind;
	} cases[] = {
	    {"0123456789abcdef0123456789abcdef", FILE_STORE_STORED},
	    {".upload-host1.42.0123456789abcdef0123456789abcdef", FILE_STORE_TEMPORARY},
	    {".upload-", FILE_STORE_TEMPORARY},
	    {".", FILE_STORE_IGNORED},
	    {"..", FILE_STORE_IGNORED},
	    {".nfs000000000012345600000001", FILE_STORE_IGNORED},
	    {".0123456789abcdef0123456789abcdef", FILE_STORE_IGNORED},
	    {"0123456789ABCDEF0123456789ABCDEF", FILE_STORE_UNEXPECTED},
	    {"0123456789abcdef0123456789abcde", FILE_STORE_UNEXPECTED},
	    {"0123456789abcdef0123456789abcdef0", FILE_STORE_UNEXPECTED},
	    {"0123456789abcdef0123456789abcdeg", FILE_STORE_UNEXPECTED},
	    {"0123456789abcdef0123456789abcdef.pdf", FILE_STORE_UNEXPECTED},
	    {"x-ray of the left wrist.pdf", FILE_STORE_UNEXPECTED},
	    {"lost+found", FILE_STORE_UNEXPECTED},
	    {"", FILE_STORE_UNEXPECTED},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(file_store_classify(cases[i].name), cases[i].kind, "'%s'",
		             cases[i].name);
	cr_assert(file_store_is_name("ffffffffffffffffffffffffffffffff"));
	cr_assert_not(file_store_is_name("../../../../../../../../etc/passwd"));
}

/* Every name file_store_commit gives is a stored name; every temporary
 * name a temporary one. */
Test(file_store, committed_and_temporary_names_classify_as_such)
{
	struct stored_file f;

	cr_assert_eq(file_store_create(&f, dir, "host1"), HMS_OK);
	cr_assert_eq(file_store_classify(f.temp_name), FILE_STORE_TEMPORARY, "%s", f.temp_name);
	cr_assert_eq(file_store_commit(&f), HMS_OK);
	cr_assert_eq(file_store_classify(f.name), FILE_STORE_STORED, "%s", f.name);
	file_store_discard(&f);
}

/* The download answer's hand-off: the one difference between web servers. */
#define STORED_NAME "0123456789abcdef0123456789abcdef"

Test(file_store, nginx_gets_its_internal_location)
{
	char buf[256];
	const char *header = file_store_handoff(WEB_SERVER_NGINX, "/var/lib/hms/attachments",
	                                        STORED_NAME, buf, sizeof(buf));

	cr_assert_str_eq(header, "X-Accel-Redirect");
	cr_assert_str_eq(buf, "/_protected/" STORED_NAME);
}

Test(file_store, apache_gets_the_absolute_path)
{
	static const char *const dirs[] = {"/var/lib/hms/attachments", "/var/lib/hms/attachments/",
	                                   "/var/lib/hms/attachments//"};
	char buf[256];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		const char *header =
		    file_store_handoff(WEB_SERVER_APACHE, dirs[i], STORED_NAME, buf, sizeof(buf));

		cr_assert_str_eq(header, "X-Sendfile");
		cr_assert_str_eq(buf, "/var/lib/hms/attachments/" STORED_NAME);
	}
	cr_assert_str_eq(file_store_handoff(WEB_SERVER_APACHE, "/", STORED_NAME, buf, sizeof(buf)),
	                 "X-Sendfile");
	cr_assert_str_eq(buf, "/" STORED_NAME);
}

Test(file_store, only_a_stored_name_is_handed_out)
{
	static const char *const names[] = {"",
	                                    "../" STORED_NAME,
	                                    STORED_NAME "/x",
	                                    ".upload-h.1.2",
	                                    "0123456789ABCDEF0123456789ABCDEF",
	                                    "passwd"};
	char buf[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_null(
		    file_store_handoff(WEB_SERVER_NGINX, "/srv/a", names[i], buf, sizeof(buf)));
		cr_assert_null(
		    file_store_handoff(WEB_SERVER_APACHE, "/srv/a", names[i], buf, sizeof(buf)));
	}
}

Test(file_store, handoff_refuses_a_relative_directory_or_a_short_buffer)
{
	char buf[256];

	cr_assert_null(
	    file_store_handoff(WEB_SERVER_APACHE, "srv/a", STORED_NAME, buf, sizeof(buf)));
	cr_assert_null(file_store_handoff(WEB_SERVER_APACHE, "", STORED_NAME, buf, sizeof(buf)));
	cr_assert_null(file_store_handoff(WEB_SERVER_APACHE, "/srv/a", STORED_NAME, buf, 20));
	cr_assert_null(file_store_handoff(WEB_SERVER_NGINX, "/srv/a", STORED_NAME, buf, 20));
}
