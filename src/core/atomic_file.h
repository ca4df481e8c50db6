/* Internal: atomic replacement of output files. Every file Plexus writes (model
 * files, checkpoints, `plexus predict -o`, CSV logs) goes through here, so a
 * crash, a full disk or a kill never leaves a half-written file in its place. */
#ifndef PX_CORE_ATOMIC_FILE_H
#define PX_CORE_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "plexus/status.h"

/* How a save works:
 *  - the path is resolved: a symbolic link is followed (a dangling one too), so
 *    the file it points to is replaced, in that file's own directory, and the
 *    link stays a link;
 *  - a path that exists and is not a regular file (a device such as /dev/null,
 *    a directory, a FIFO, a socket) is refused with one clear error;
 *  - temporary leftovers of interrupted saves to the same path are removed
 *    (those of processes that are gone, and the "<name>.tmp.<pid>" files older
 *    versions of Plexus left);
 *  - the new content goes to "<dir>/<name>.tmp-XXXXXX/<name>": a private
 *    directory made by mkdtemp (mode 0700, name unpredictable, created
 *    exclusively) beside the target, so nothing planted at a guessable name can
 *    redirect the write, and two saves to one path (threads or processes) never
 *    share a temporary file. The directory is locked (flock) while the save runs;
 *  - commit flushes and fsyncs the file, gives it the old file's permission
 *    bits, rename()s it over the target, fsyncs the directory and removes the
 *    private directory; abort (or a failed commit) removes everything it made.
 * Until commit succeeds the previous file is untouched. */
typedef struct px_atomic_file px_atomic_file;

/* Starts replacing `path`. `who` (may be NULL) prefixes error messages ("CSVLogger").
 * On success *out owns the temporary file; end it with commit or abort. */
px_status px_atomic_begin(const char *path, const char *who, px_atomic_file **out);
/* The temporary file's path, for libraries that write files by name (it does
 * not exist until the caller creates it there, unless px_atomic_stream or
 * px_atomic_write made it). */
const char *px_atomic_temp_path(const px_atomic_file *f);
/* The resolved target (symbolic links followed) and the path as given. */
const char *px_atomic_target(const px_atomic_file *f);
const char *px_atomic_path(const px_atomic_file *f);
/* A stdio stream on the temporary file (opened on first call; owned by f). */
FILE *px_atomic_stream(px_atomic_file *f);
/* Appends bytes to the temporary file (through the stream). */
px_status px_atomic_write(px_atomic_file *f, const void *data, size_t n);
/* Publishes the temporary file as the target and frees f (also on failure, which
 * removes the temporary file and leaves the target as it was). */
px_status px_atomic_commit(px_atomic_file *f);
/* Removes the temporary file and frees f. NULL is fine. */
void px_atomic_abort(px_atomic_file *f);

/* The whole file at once: begin, write, commit. */
px_status px_atomic_write_file(const char *path, const char *who, const void *data, size_t n);

/* For writers that must append to a file in place (a log opened once per
 * training run): the same resolution and checks as px_atomic_begin, without the
 * temporary file. *resolved (malloc'd, caller frees) is the file to open. */
px_status px_output_path_resolve(const char *path, const char *who, char **resolved);

#endif
