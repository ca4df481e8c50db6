/* A program outside the project that uses the installed Plexus. */
#include <plexus/plexus.h>
#include <stdio.h>
int main(void) {
    px_graph *g = px_graph_new();
    px_node *t = px_add(px_constant_scalar(g, 3.0f), px_constant_scalar(g, 4.0f));
    px_tensor *out = NULL;
    if (px_run(g, &t, 1, NULL, 0, &out) != PX_OK) return 1;
    printf("%g\n", px_tensor_f32(out)[0]);
    px_tensor_free(out);
    px_graph_free(g);
    return 0;
}
