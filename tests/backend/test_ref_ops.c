/* The reference device against the CPU, op by op: every op with a device
 * kernel, forward and backward, on the device's own memory with explicit
 * copies (tests/device_compare.c); its memory rules; the counter-based
 * generator against its published test vectors. */
#include <string.h>

#include "backend/kernels/philox.h"
#include "backend/ref/ref.h"
#include "device_compare.h"
#include "graph/node.h"
#include "px_test.h"

static void test_every_op_matches_the_cpu(void) {
    int before = px_ref_buffer_count(), n = 0;
    int bad = px_dc_run_all(px_backend_ref(), true, &n);
    CHECK(bad == 0);
    CHECK(n > 80);
    CHECK(px_ref_buffer_count() == before); /* every buffer given back */
}

/* Random123's known answers for Philox4x32-10. */
static void test_philox_known_answers(void) {
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, k1[2] = {0xffffffffu, 0xffffffffu};
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, k2[2] = {0xa4093822u, 0x299f31d0u};
    uint32_t w[4];
    pxk_philox4x32(c0, k0, w);
    CHECK(w[0] == 0x6627e8d5u && w[1] == 0xe169c58du && w[2] == 0xbc57ac4cu && w[3] == 0x9b00dbd8u);
    pxk_philox4x32(c1, k1, w);
    CHECK(w[0] == 0x408f276du && w[1] == 0x41c83b0eu && w[2] == 0xa20bc7c6u && w[3] == 0x6d5451fdu);
    pxk_philox4x32(c2, k2, w);
    CHECK(w[0] == 0xd16cfe09u && w[1] == 0x94fdccebu && w[2] == 0x5001e420u && w[3] == 0x24126ea1u);
    /* the uniform for element i is word i % 4 of counter i / 4 */
    pxk_philox4x32((const uint32_t[4]){1, 0, 0, 0}, (const uint32_t[2]){7, 0}, w);
    CHECK(pxk_uniform_at(7, 6) == pxk_to_uniform(w[2]));
}

/* Host memory handed to a device kernel is refused, not silently used. */
static void test_foreign_pointers_are_refused(void) {
    px_backend *b = px_backend_ref();
    float host_x[4] = {1, 2, 3, 4};
    void *out = NULL;
    CHECK_OK(b->ops->alloc(b, sizeof host_x, &out));
    px_tensor x = {.dtype = PX_F32, .rank = 1, .shape = {4}, .strides = {1}, .data = host_x};
    px_tensor y = x;
    y.data = out;
    const px_tensor *in[1] = {&x};
    px_kernel k = {.code = PX_K_RELU, .name = "relu", .iattr = (int64_t[16]){0}, .fattr = (float[4]){0}, .n_in = 1,
                   .in = in, .out = &y};
    CHECK(b->ops->forward(b, &k) == PX_ERR_STATE);
    CHECK_ERROR_HAS("not the device's");
    /* uploads must come from the host and downloads go to it */
    CHECK(b->ops->upload(b, out, out, sizeof host_x) == PX_ERR_STATE);
    CHECK_OK(b->ops->upload(b, out, host_x, sizeof host_x));
    float back[4] = {0};
    CHECK_OK(b->ops->download(b, back, out, sizeof back));
    CHECK(memcmp(back, host_x, sizeof back) == 0);
    b->ops->free(b, out);
}

/* A recorded step is kept, not run, and replays with the values it recorded. */
static void test_record_and_replay(void) {
    px_backend *b = px_backend_ref();
    float ones[3] = {1, 1, 1}, twos[3] = {2, 2, 2}, back[3];
    float *x = NULL, *y = NULL;
    CHECK_OK(b->ops->alloc(b, sizeof ones, (void **)&x));
    CHECK_OK(b->ops->alloc(b, sizeof ones, (void **)&y));
    CHECK_OK(b->ops->upload(b, x, ones, sizeof ones));
    void *step = NULL;
    CHECK_OK(b->ops->record_begin(b));
    CHECK_OK(b->ops->accumulate(b, y, x, 3)); /* y += x */
    CHECK(b->ops->upload(b, x, twos, sizeof twos) == PX_ERR_STATE); /* no host copies inside a step */
    CHECK_OK(b->ops->record_end(b, &step));
    CHECK_OK(b->ops->download(b, back, y, sizeof back));
    CHECK(back[0] == 0); /* recorded, not run */
    CHECK_OK(b->ops->replay(b, step));
    CHECK_OK(b->ops->upload(b, x, twos, sizeof twos));
    CHECK_OK(b->ops->replay(b, step));
    CHECK_OK(b->ops->download(b, back, y, sizeof back));
    CHECK(back[0] == 3 && back[2] == 3);
    b->ops->step_free(b, step);
    b->ops->free(b, x);
    b->ops->free(b, y);
}

/* The general recurrent op runs on the device except with dropout, whose
 * masks come from the graph's serial generator: that one stays on the CPU. */
static void test_rnn_dropout_stays_on_the_cpu(void) {
    px_backend *b = px_backend_ref();
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(2, 3, 4), "x");
    px_node *w = px_placeholder(g, PX_F32, PX_SHAPE(4, 20), "w"), *u = px_placeholder(g, PX_F32, PX_SHAPE(5, 20), "u");
    px_rnn_fused_options plain = {.activation = PX_RELU}, drop = {.activation = PX_RELU, .recurrent_dropout = 0.25f};
    px_node *ok = px_rnn_fused_ex(PX_RNN_LSTM, x, w, u, NULL, NULL, &plain);
    px_node *cpu = px_rnn_fused_ex(PX_RNN_LSTM, x, w, u, NULL, NULL, &drop);
    CHECK(ok && cpu);
    if (ok && cpu) {
        px_kernel k = {.code = ok->op->code, .name = "rnn_general", .iattr = ok->iattr, .fattr = ok->fattr};
        CHECK(k.code == PX_K_RNN_GENERAL && b->ops->supports(b, &k, false));
        k.iattr = cpu->iattr, k.fattr = cpu->fattr;
        CHECK(!b->ops->supports(b, &k, false));
    }
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_every_op_matches_the_cpu);
    RUN_TEST(test_philox_known_answers);
    RUN_TEST(test_foreign_pointers_are_refused);
    RUN_TEST(test_record_and_replay);
    RUN_TEST(test_rnn_dropout_stays_on_the_cpu);
    return px_test_finish();
}
