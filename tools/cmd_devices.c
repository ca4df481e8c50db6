/* `plexus devices`: the devices a session can run on (for --device and
 * PX_DEVICE), and why no GPU is listed when none is. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "cli_common.h"

static const char *CMD = "devices";

int cmd_devices(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: plexus devices\n\n"
                   "Lists the devices Plexus can run on, by the names --device and PX_DEVICE take:\n"
                   "cpu, ref (the reference device, for tests) and cuda:N for each GPU.\n\n"
                   "Exit codes: 0 success, 2 bad usage.\n");
            return CLI_OK;
        }
        return cli_usage(CMD, "unexpected argument '%s'", argv[i]);
    }
    px_device_info d[32];
    int n = px_device_list(d, 32);
    for (int i = 0; i < n && i < 32; i++) printf("%-8s %s\n", d[i].name, d[i].description);
    const char *why = px_cuda_unavailable_reason();
    if (*why) printf("(no GPU: %s)\n", why);
    return CLI_OK;
}
