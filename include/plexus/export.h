/* PX_API marks the functions of Plexus's public interface. The library is
 * built with hidden visibility, so only these are exported from libplexus.so;
 * everything else in src/ stays internal. */
#ifndef PLEXUS_EXPORT_H
#define PLEXUS_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PX_API __attribute__((visibility("default")))
#else
#define PX_API
#endif

#endif
