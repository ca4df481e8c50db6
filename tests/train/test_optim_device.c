/* Every optimizer, with each clipping mode, stepped on the reference device
 * against the same steps on the CPU (tests/device_compare.c): parameters and
 * slots agree (slots read back through px_optimizer_slot), the iteration count
 * and Nadam's state advance alike, and a host step continues from there. */
#include "device_compare.h"
#include "px_test.h"

static void test_every_optimizer(void) { CHECK(px_dc_optimizers(px_backend_ref()) == 0); }

int main(void) {
    RUN_TEST(test_every_optimizer);
    return px_test_finish();
}
