/* Internal: zip archives through libzip, for Keras 3's .keras files (a zip of
 * metadata.json, config.json and model.weights.h5). */
#ifndef PX_FORMATS_ZIPFILE_H
#define PX_FORMATS_ZIPFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "plexus/status.h"

typedef struct px_zip px_zip;

/* True when the file starts with a zip local-file signature ("PK\3\4"); false for
 * anything else, including files that cannot be read. */
bool px_zip_is_archive(const char *path);

/* Opens an archive read-only; errors name the file (PX_ERR_IO: cannot read it,
 * PX_ERR_FORMAT: not a zip archive or a damaged one). */
px_status px_zip_open(const char *path, px_zip **out);
void px_zip_close(px_zip *z);
bool px_zip_has(px_zip *z, const char *member);
/* The member, whole, into a malloc'd buffer with a NUL after the last byte (so text
 * members are C strings); *size excludes the NUL. PX_ERR_FORMAT naming the archive
 * and the member when it is missing or damaged. */
px_status px_zip_read(px_zip *z, const char *member, char **data, size_t *size);

typedef struct px_zip_member {
    const char *name;
    const void *data;  /* borrowed until px_zip_write_atomic returns */
    size_t size;
} px_zip_member;

/* Writes an archive of these members, stored without compression as Keras writes
 * them: built in memory, then saved atomically (core/atomic_file.h). */
px_status px_zip_write_atomic(const char *path, const px_zip_member *members, int n);

#endif
