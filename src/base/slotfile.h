/*
 * slotfile: a small state file updated in place, durably, with one fdatasync per update.
 *
 * The file holds two fixed slots of SLOTFILE_SLOT_LEN bytes (offsets 0 and SLOTFILE_SLOT_LEN). Each
 * update writes the slot not holding the newest state, with a generation number one higher and a
 * CRC-32C, then fdatasyncs. The file never changes size after creation, so the sync needs no
 * metadata journal commit, unlike write-temp-then-rename (two fsyncs plus a rename). A torn
 * write damages only the slot being written; the other slot still holds the previous state, and
 * reading picks the valid slot with the higher generation.
 *
 *   slot: u32 magic "HYSF" | u32 crc (over gen, len, payload) | u64 gen | u32 len | payload
 *
 * A struct slotfile is used by one thread at a time (its owner serialises calls).
 */
#ifndef HY_SLOTFILE_H
#define HY_SLOTFILE_H

#include <stddef.h>
#include <stdint.h>

#define SLOTFILE_SLOT_LEN 16384u
#define SLOTFILE_HDR_LEN 20u
#define SLOTFILE_MAX_PAYLOAD (SLOTFILE_SLOT_LEN - SLOTFILE_HDR_LEN)

struct slotfile {
    int fd;
    uint64_t gen; /* generation of the newest valid slot; 0 when the file holds none */
};

/* Open (creating, sized and synced into its directory, if missing) the slot file at path.
 * Returns 0 or a negative error. */
int slotfile_open(struct slotfile *sf, const char *path);
/* Copy the newest valid payload into buf (cap bytes); *len = 0 when the file holds none yet.
 * Returns 0, HY_E2BIG if cap is too small, or a negative I/O error. */
int slotfile_read(struct slotfile *sf, void *buf, size_t cap, size_t *len);
/* Durably replace the state with payload (at most SLOTFILE_MAX_PAYLOAD bytes): one pwrite and one
 * fdatasync. Returns 0, HY_E2BIG, or a negative I/O error (then the previous state stands). */
int slotfile_write(struct slotfile *sf, const void *payload, size_t len);
void slotfile_close(struct slotfile *sf);

#endif
