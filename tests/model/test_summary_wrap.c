/* model.summary() keeps its columns aligned when a layer's name and class are
 * longer than the column (issue 18 item 12): the text wraps as Keras's
 * print_row wraps it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

static char *summary_text(const px_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    CHECK_OK(px_model_summary(m, f));
    fclose(f);
    return buf;
}

/* Every line of the table part has the table's width (the blank line between
 * two rows one less, as the existing layout has it). */
static bool all_lines_width(const char *s, int width) {
    bool ok = true;
    for (const char *p = strchr(s, '\n') + 1; p && *p; p = strchr(p, '\n') + 1) {
        const char *e = strchr(p, '\n');
        if (!e) break;
        if (strncmp(p, "Total", 5) == 0 || strncmp(p, "Trainable", 9) == 0 || strncmp(p, "Non-", 4) == 0) continue;
        bool blank = (int)strspn(p, " ") == e - p;
        if (e - p != width && !(blank && e - p == width - 1)) {
            printf("  line of width %d: '%.*s'\n", (int)(e - p), (int)(e - p), p);
            ok = false;
        }
    }
    return ok;
}

static void test_long_names_wrap(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(3, &(px_dense_options){.input_shape = PX_SHAPE(4), .name = "a_rather_long_layer_name"}),
        px_dense_ex(2, &(px_dense_options){.activation = PX_SOFTMAX, .name = "out"}), NULL});
    char *s = summary_text(m);
    CHECK_NOT_NULL(s);
    if (!s) return;
    char want1[128], want2[128], want3[128];
    /* "a_rather_long_layer_name (Dense)" is 32 characters; the column holds 26 */
    snprintf(want1, sizeof want1, "\n %-28s%-26s%-10s\n", "a_rather_long_layer_name (", "(None, 3)", "15");
    snprintf(want2, sizeof want2, "\n %-28s%-26s%-10s\n", "Dense)", "", "");
    snprintf(want3, sizeof want3, "\n %-28s%-26s%-10s\n", "out (Dense)", "(None, 2)", "8");
    CHECK(strstr(s, want1) != NULL);
    CHECK(strstr(s, want2) != NULL && strstr(s, want2) > strstr(s, want1));
    CHECK(strstr(s, want3) != NULL);
    CHECK(all_lines_width(s, 65));
    if (px_test_failed) printf("%s", s);
    free(s);
    px_model_free(m);

    /* a Functional model: four columns of 98 */
    m = px_functional("f");
    px_node *in = px_model_input(m, PX_SHAPE(6), "an_input_with_a_long_name_too");
    px_node *a = px_apply(px_dense_ex(4, &(px_dense_options){.name = "first_hidden_layer_with_a_long_name"}), in);
    px_node *c = px_apply_n(px_concatenate(-1), (px_node *[]){in, a}, 2);
    CHECK_OK(px_model_set_outputs(m, &c, 1));
    s = summary_text(m);
    CHECK(s && all_lines_width(s, 98));
    CHECK(s && strstr(s, "['an_input_with_a_long_name_too[0][0]',") == NULL); /* wrapped at the column's edge */
    if (px_test_failed && s) printf("%s", s);
    free(s);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_long_names_wrap);
    return px_test_finish();
}
