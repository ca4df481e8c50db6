/* Internal to the data module: IDX files of unsigned bytes read as bytes
 * (Fashion-MNIST's pixels and labels kept at one byte each). */
#ifndef PX_DATA_IDX_H
#define PX_DATA_IDX_H

#include "plexus/source.h"

/* As px_idx_read_split (src/formats/gzfile.h), into owned arrays of bytes
 * (type PX_ELEM_U8, owned: free their data, or hand them to a source that
 * takes them). A file of any other element type is an error naming it. */
px_status px_idx_read_bytes_split(const char *path, int64_t n_first, px_array *first, px_array *rest,
                                  int64_t *total_rows);

#endif
