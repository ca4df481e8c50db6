/* px_activation_kernel (the device kernels' code and parameters of each
 * elementwise activation, which the general recurrent op hands to its device
 * kernels) against the activation table's scalar forms that the CPU op applies:
 * every elementwise activation has a code, and the code's formula with those
 * parameters gives the scalar form's values and derivatives over a grid of
 * inputs (a wrong code or slope would make a device's LSTM differ from the CPU's
 * only for activations that tests/device_compare.c does not try). */
#include "backend/kernels/unary.h"
#include "ops/activation_scalar.h"
#include "px_test.h"

static void test_codes_match_the_scalar_forms(void) {
    int elementwise = 0;
    for (int a = 0; a < PX_ACTIVATION_COUNT; a++) {
        px_act_f f;
        px_act_df df;
        int code = -1;
        float p0 = -1.0f;
        bool scalar = px_activation_scalar((px_activation)a, &f, &df);
        bool coded = px_activation_kernel((px_activation)a, &code, &p0);
        if (coded != scalar)
            px_test_fail(__FILE__, __LINE__, "activation %d: %s a scalar form but %s a kernel code", a,
                         scalar ? "has" : "has no", coded ? "has" : "has no");
        if (!scalar || !coded) continue;
        elementwise++;
        /* the second parameter, as px_activation_kernel's header gives it */
        float p1 = code == PX_K_HARD_SIGMOID ? 0.5f : 0.0f;
        int bad = 0;
        for (int i = -80; i <= 80; i++) {
            float x = (float)i * 0.1f + 0.013f; /* off the kinks at 0, +-3 and 6 */
            float y = f(x), ky = pxk_unary_fwd(code, x, p0, p1);
            float d = df(x, y), kd = pxk_unary_bwd(code, x, ky, 1.0f, p0, p1);
            if (!(fabsf(ky - y) <= 1e-5f * (1.0f + fabsf(y))) || !(fabsf(kd - d) <= 1e-4f * (1.0f + fabsf(d)))) {
                if (!bad)
                    px_test_fail(__FILE__, __LINE__, "activation %d (code %d) at %g: %g, %g against %g, %g", a,
                                 code, (double)x, (double)ky, (double)kd, (double)y, (double)d);
                bad++;
            }
        }
        if (!bad) px_test_passed++;
    }
    CHECK(elementwise == PX_ACTIVATION_COUNT - 2); /* all but softmax and log_softmax */
    int code = 0;
    float p0 = 0;
    CHECK(!px_activation_kernel(PX_SOFTMAX, &code, &p0) && !px_activation_kernel(PX_ACTIVATION_COUNT, &code, &p0));
}

int main(void) {
    RUN_TEST(test_codes_match_the_scalar_forms);
    return px_test_finish();
}
