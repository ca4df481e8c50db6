/* CRC-32C, table-driven with slicing-by-8: event files are small, but histograms of
 * large weight matrices are not, and the byte-at-a-time loop is ~6x slower. */
#include "formats/crc32c.h"

#include <pthread.h>

#define PX_CRC32C_POLY 0x82f63b78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Built at first use rather than spelled out: 2048 constants in source would be
 * unreviewable, and pthread_once keeps concurrent first callers safe. */
static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ PX_CRC32C_POLY : c >> 1;
        table[0][i] = c;
    }
    /* table[k][i] is the CRC of byte i followed by k zero bytes, so eight table
     * lookups advance the CRC over eight input bytes at once. */
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
}

uint32_t px_crc32c_extend(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    pthread_once(&table_once, build_table);
    crc = ~crc;
    /* Byte-wise assembly of the 8-byte words keeps this independent of alignment
     * and host byte order. */
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
              table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t px_crc32c(const void *data, size_t n) { return px_crc32c_extend(0, data, n); }
