/*
 * crc32c: CRC-32C (Castagnoli), as used by the stream log's frames. Uses the SSE4.2 crc32
 * instruction when the CPU has it, a slicing table otherwise. Hand-written: Debian 12 packages no
 * CRC-32C library (zlib's crc32 is the other polynomial). Thread-safe.
 * crc32c(0, "123456789", 9) == 0xE3069283.
 */
#ifndef HY_CRC32C_H
#define HY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over p[0..len). */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

#endif
