/*
 * file_type.c - the allow-list of upload types, judged by libmagic.
 */
#include "hms/file_type.h"

#include <magic.h>
#include <stddef.h>
#include <string.h>
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

static magic_t cookie;

static magic_t magic_handle(void)
{
	size_t bytes_max = MAGIC_BYTES_MAX;

	if (cookie != NULL)
		return cookie;
	/* Compressed files are judged as they are (not unpacked); nothing is
	 * allowed that would need it. */
	cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
	if (cookie == NULL)
		return NULL;
	if (magic_load(cookie, NULL) != 0 ||
	    magic_setparam(cookie, MAGIC_PARAM_BYTES_MAX, &bytes_max) != 0) {
		log_event(LOG_ERROR, "magic_load_failed", LOG_END);
		magic_close(cookie);
		cookie = NULL;
	}
	return cookie;
}

enum hms_err file_type_of(int fd, const char **mime)
{
	magic_t m = magic_handle();
	const char *detected;

	*mime = NULL;
	if (m == NULL || lseek(fd, 0, SEEK_SET) != 0)
		return HMS_ERR_INTERNAL;
	detected = magic_descriptor(m, fd);
	if (detected == NULL) {
		log_event(LOG_ERROR, "magic_failed", LOG_END);
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
