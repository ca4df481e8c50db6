/* libFuzzer target: bytes as JSON through px_json_parse (jansson) and, when they
 * parse, px_json_write checked against the parser: the text written parses to
 * an equal tree and writes the same bytes again. A mismatch aborts (a finding). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"

static void fail(const char *what, const char *text) {
    fprintf(stderr, "fuzz_json: %s\n  written: %.300s\n", what, text ? text : "(none)");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    px_json *j = NULL;
    if (px_json_parse((const char *)data, size, &j) != PX_OK) {
        if (strncmp(px_last_error(), "invalid JSON at line ", 21) != 0 && px_last_status() != PX_ERR_NOMEM)
            fail("a parse error without its position", px_last_error());
        return 0;
    }
    char *out = NULL, *again = NULL;
    if (px_json_write(j, &out) != PX_OK) fail("a parsed tree could not be written", px_last_error());
    px_json *k = NULL;
    if (px_json_parse(out, strlen(out), &k) != PX_OK) fail("the written text does not parse", out);
    if (!px_json_equal(j, k)) fail("the written text parses to a different tree", out);
    if (px_json_write(k, &again) != PX_OK || strcmp(out, again) != 0) fail("writing is not stable", out);
    px_json *c = px_json_copy(j);
    if (!px_json_equal(c, j)) fail("a copy differs", out);
    px_json_free(c);
    free(again);
    free(out);
    px_json_free(k);
    px_json_free(j);
    return 0;
}
