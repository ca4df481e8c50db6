/* CRC-32C (Castagnoli) and the TFRecord "masked" form that frames every TensorBoard
 * event record. Internal to the library; the tests include it from src/. */
#ifndef PX_IO_CRC32C_H
#define PX_IO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes (init and final xor 0xFFFFFFFF, reflected polynomial 0x82F63B78). */
uint32_t px_crc32c(const void *data, size_t n);

/* Continues a CRC: px_crc32c_extend(px_crc32c(a), b) == CRC-32C of a followed by b.
 * px_crc32c_extend(0, ...) equals px_crc32c(...). */
uint32_t px_crc32c_extend(uint32_t crc, const void *data, size_t n);

/* TFRecord's mask: rotate right by 15 bits, then add 0xA282EAD8. TensorFlow masks CRCs
 * stored next to data so that a CRC of data that itself contains CRCs stays well mixed. */
static inline uint32_t px_crc32c_mask(uint32_t crc) {
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline uint32_t px_crc32c_unmask(uint32_t masked) {
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

#endif
