/* A program outside the project that uses the installed Plexus: the library it
 * loads is the version of the headers it was compiled with, and 3 + 4 runs. */
#include <plexus/plexus.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    if (strcmp(px_version(), PX_VERSION_STRING) != 0) {
        fprintf(stderr, "px_version() is %s, the headers say %s\n", px_version(), PX_VERSION_STRING);
        return 1;
    }
    px_graph *g = px_graph_new();
    px_node *t = px_add(px_constant_scalar(g, 3.0f), px_constant_scalar(g, 4.0f));
    px_tensor *out = NULL;
    if (px_run(g, &t, 1, NULL, 0, &out) != PX_OK) return 1;
    printf("%g\n", px_tensor_f32(out)[0]);
    px_tensor_free(out);
    px_graph_free(g);
    return 0;
}
