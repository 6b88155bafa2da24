/*
 * file_type.h - what an uploaded file is, decided from its bytes.
 *
 * libmagic reads the file's content (never its name or the type the client
 * claimed) and the answer must be on the allow-list of SPEC §5: PDF, PNG,
 * JPEG, plain text, DICOM. libmagic runs in a short-lived child process
 * (file_type.c says why).
 */
#ifndef HMS_FILE_TYPE_H
#define HMS_FILE_TYPE_H

#include "hms/err.h"

/* Sets *mime to the allowed MIME type of the file open at fd (read from
 * its start), or NULL when its type is not allowed. HMS_ERR_INTERNAL when
 * libmagic cannot be loaded or cannot read the file. */
enum hms_err file_type_of(int fd, const char **mime);

/* The allow-list, for messages and documents: "PDF, PNG, JPEG, ...". */
const char *file_type_allowed_names(void);

#endif
