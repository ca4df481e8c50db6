/* The library's version string, fixed at build time. */
#include "plexus/version.h"

const char *px_version(void) { return PX_VERSION_STRING; }
