/* Every public function called with NULL and boundary arguments (issue 18 item
 * 18): none may crash, hang or fail without a message. The calls are generated
 * from the headers in include/plexus/ at build time (tests/scripts/gen_api_calls.py), so a
 * function added later is covered at once; each runs in a child process of its
 * own, on fresh sample objects. A few rules a generic call cannot reach (fields
 * of option structs, shared ownership) are checked by hand below. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plexus/model_io.h"
#include "plexus/plexus.h"
#include "px_test.h"

/* Valid objects for the parameters that are not the one under test. */
static struct samples {
    px_model *model;
    px_layer *layer;
    px_graph *graph;
    px_node *node;
    px_tensor *tensor;
    px_dataset *dataset;
    px_optimizer *opt;
    px_callback *cb;
    px_session *session;
    px_history *history;
    px_tb_writer *tb;
    FILE *file;
    px_rng rng;
    /* NULL-terminated lists of each object, for T ** and T *const * parameters */
    px_model *list_px_model[5];
    px_layer *list_px_layer[5];
    px_node *list_px_node[5];
    px_graph *list_px_graph[5];
    px_tensor *list_px_tensor[5];
    px_dataset *list_px_dataset[5];
    px_optimizer *list_px_optimizer[5];
    px_callback *list_px_callback[5];
    px_session *list_px_session[5];
    px_history *list_px_history[5];
    px_tb_writer *list_px_tb_writer[5];
    void *ptrs[64];
    void *pptr;
    _Alignas(64) char buf[1 << 16];
} S;

/* The string argument: "x" (a name, a path in the test's directory), padded
 * with NULs so that a (text, size) pair with the valid size 64 stays inside it. */
static const char SX[128] = "x";

#define GOOD_SHAPE PX_SHAPE(2, 3)
#define BAD_SHAPE ((px_shape){.rank = 2, .dim = {-3, 2}})

typedef struct api_call {
    const char *name;
    int n_params;
    int (*call)(int variant, int *checked);
} api_call;

#include "api_calls.inc"

#define FILL(list, x)                                                                                \
    do {                                                                                             \
        for (int i_ = 0; i_ < 4; i_++) (list)[i_] = (x);                                             \
        (list)[4] = NULL;                                                                            \
    } while (0)

/* A small compiled and trained model and the objects around it. */
static bool make_samples(void) {
    px_set_random_seed(1);
    S.model = px_sequential((px_layer *[]){px_dense_ex(4, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(3)}),
                                           px_dense(2, PX_SOFTMAX), NULL});
    if (!S.model || px_model_compile(S.model, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                                    .optimizer = px_adam(NULL),
                                                                    .metrics = {PX_ACCURACY}}) != PX_OK)
        return false;
    px_tensor *x = px_tensor_zeros(PX_SHAPE(4, 3)), *y = px_tensor_new(PX_I32, PX_SHAPE(4));
    S.dataset = px_dataset_new(x, y);
    if (!S.dataset || px_model_fit(S.model, S.dataset, &(px_fit_options){.verbose = PX_VERBOSE_SILENT}) != PX_OK) return false;
    S.layer = px_model_layer(S.model, 0);
    S.graph = px_model_graph(S.model);
    S.node = px_model_output(S.model, 0);
    S.tensor = px_tensor_zeros(PX_SHAPE(2, 3));
    S.opt = px_sgd(NULL);
    S.cb = px_terminate_on_nan();
    S.session = px_session_new(S.graph, &S.node, 1, NULL);
    S.history = (px_history *)px_model_history(S.model);
    S.tb = px_tb_writer_open("tb");
    S.file = fopen("/dev/null", "w");
    S.rng = px_rng_seeded(3);
    FILL(S.list_px_model, S.model);
    FILL(S.list_px_layer, S.layer);
    FILL(S.list_px_node, S.node);
    FILL(S.list_px_graph, S.graph);
    FILL(S.list_px_tensor, S.tensor);
    FILL(S.list_px_dataset, S.dataset);
    FILL(S.list_px_optimizer, S.opt);
    FILL(S.list_px_callback, S.cb);
    FILL(S.list_px_session, S.session);
    FILL(S.list_px_history, S.history);
    FILL(S.list_px_tb_writer, S.tb);
    return S.layer && S.node && S.opt && S.cb && S.session && S.history && S.tb && S.file;
}

static void free_samples(void) {
    px_session_free(S.session);
    px_model_free(S.model); /* with its layers, graph and history */
    px_dataset_free(S.dataset);
    px_tensor_free(S.tensor);
    px_optimizer_free(S.opt);
    px_callback_free(S.cb);
    px_tb_writer_close(S.tb);
    if (S.file) fclose(S.file);
    memset(&S, 0, sizeof S);
}

/* Runs one call in a child; 0 fine, else what went wrong (printed). */
static int run_call(const api_call *c, int v) {
    fflush(stdout);
    int pipefd[2];
    if (pipe(pipefd) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        alarm(20);
        int code = 3;
        if (make_samples()) {
            int checked = 0;
            int bad = c->call(v, &checked);
            char msg[1100];
            snprintf(msg, sizeof msg, "%d %s", bad, px_last_error());
            if (write(pipefd[1], msg, strlen(msg)) < 0) code = 4;
            else code = 0;
        } else {
            dprintf(pipefd[1], "9 samples: %s", px_last_error());
        }
        _exit(code); /* no exit handlers: the samples are not freed (the call may have taken them) */
    }
    close(pipefd[1]);
    char out[1200] = "";
    ssize_t n = read(pipefd[0], out, sizeof out - 1);
    if (n > 0) out[n] = '\0';
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    const char *why = NULL;
    if (WIFSIGNALED(st)) why = WTERMSIG(st) == SIGALRM ? "hung (20 s)" : "crashed";
    else if (WEXITSTATUS(st) == 3) why = "could not make the samples";
    else if (WEXITSTATUS(st) != 0) why = "the child failed (a sanitizer report?)";
    else if (out[0] == '1') why = "failed without an error message";
    if (!why) return 0;
    printf("  %s, variant %d of %d: %s", c->name, v, c->n_params, why);
    if (WIFSIGNALED(st)) printf(" (signal %d)", WTERMSIG(st));
    printf("%s%s\n", out[0] == '9' ? ": " : "", out[0] == '9' ? out + 2 : "");
    return 1;
}

static void test_every_public_function(void) {
    int n = (int)(sizeof api_calls / sizeof api_calls[0]), bad = 0, calls = 0;
    for (int i = 0; i < n; i++)
        for (int v = 0; v <= api_calls[i].n_params; v++) {
            calls++;
            bad += run_call(&api_calls[i], v);
        }
    printf("%d public functions, %d calls with NULL and boundary arguments, %d broke the rules\n", n, calls, bad);
    CHECK(n > 300);
    CHECK(bad == 0);
}

/* What the generated calls cannot reach. */
static void test_by_hand(void) {
    if (!make_samples()) {
        CHECK(false);
        return;
    }
    /* fit with callbacks NULL but a count */
    px_clear_error();
    CHECK(px_model_fit(S.model, S.dataset, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .n_callbacks = 2}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("callbacks");
    px_callback *none[2] = {S.cb, NULL};
    CHECK(px_model_fit(S.model, S.dataset, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .callbacks = none, .n_callbacks = 2}) ==
          PX_ERR_ARG);
    CHECK(px_model_fit(S.model, S.dataset, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .n_callbacks = -1}) == PX_ERR_ARG);
    /* set_weights with NULL weights but a count */
    CHECK(px_model_set_weights(S.model, NULL, 4) == PX_ERR_ARG);
    px_tensor *holes[4] = {S.tensor, NULL, NULL, NULL};
    CHECK(px_model_set_weights(S.model, holes, 4) != PX_OK && px_last_error()[0]);
    /* one optimizer given to two models: refused, not freed twice */
    px_model *a = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(3)}), NULL});
    px_model *b = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(3)}), NULL});
    px_optimizer *shared = px_sgd(NULL);
    CHECK_OK(px_model_compile(a, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = shared}));
    CHECK(px_model_compile(b, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = shared}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("already belongs to model");
    CHECK(px_model_optimizer(a) == shared && px_model_optimizer(b) != shared);
    /* compiling a again with its own optimizer is fine */
    CHECK_OK(px_model_compile(a, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = shared}));
    /* a failed recompile with its own optimizer leaves that optimizer to the model (a free
     * here would be a use after free below, shown under ASan) */
    CHECK(px_model_compile(a, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = shared,
                                                    .metrics = {(px_metric_kind)9999}}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("unknown metric");
    CHECK(px_model_optimizer(a) == shared);
    CHECK_OK(px_model_compile(a, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = shared}));
    px_model_free(a);
    px_model_free(b); /* a double free would show under ASan */
    /* out-parameters that are NULL */
    CHECK(px_loss_from_name("mse", NULL) == PX_ERR_ARG);
    CHECK(px_metric_from_name("accuracy", NULL) == PX_ERR_ARG);
    CHECK(px_activation_from_name("relu", NULL) == PX_ERR_ARG);
    free_samples();
}

int main(void) {
    char dir[] = "/tmp/px_api_XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) return 1;
    RUN_TEST(test_every_public_function);
    RUN_TEST(test_by_hand);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (chdir("/") != 0 || system(cmd) != 0) printf("could not remove %s\n", dir);
    return px_test_finish();
}
