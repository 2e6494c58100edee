/*
 * wal_int: private to src/stream/wal*.c (and the wal unit test and fuzz target, which use the
 * test hooks at the end). Holds the wal and reader structs, the frame codec and the segment
 * table helpers shared by wal.c (append, committer, trim), wal_recover.c (open-time scan) and
 * wal_reader.c (consumers).
 *
 * Locking: every field marked [mu] is read and written under wal.mu. Fields marked [committer]
 * belong to the committer thread (or to wal_open/wal_close while no committer runs).
 * The segment table invariant: segs[] is sorted by first_seq, never empty, and the last entry
 * is the active segment; segs[i].size is the durable size of that file, so a reader never looks
 * at bytes that a failed write may still cut. Only the committer appends entries or grows the
 * last one; only wal_trim removes entries, and never the last.
 */
#ifndef HY_WAL_INT_H
#define HY_WAL_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "stream/seal.h"
#include "stream/wal.h"

#define WAL_FRAME_HDR_LEN 24
/* Top bit of a frame's len field: the data is sealed (stream/seal.h). */
#define WAL_FRAME_SEALED 0x80000000u
/* Frames claiming more than this are corrupt on read, whatever the append limit was. */
#define WAL_FRAME_DATA_MAX_LEN (16u * 1024 * 1024)
/* "<20 digits>.seg" plus NUL. */
#define WAL_SEG_NAME_LEN 25
/* Reader and recovery I/O chunk: large reads keep syscalls off the per-record path. */
#define WAL_READ_CHUNK_LEN (1024u * 1024)

struct wal_seg {
    uint64_t first_seq;
    uint64_t size; /* durable bytes in the file */
};

/* A damaged span already counted: segment and byte offset identify it. */
struct wal_damage_seen {
    uint64_t seg_first;
    uint64_t off;
};

/* A window of file bytes for the slow paths (recovery, resync, damage views):
 * buf[0..len) holds file bytes [off, off + len). Zeroed is empty. */
struct wal_win {
    uint8_t *buf;
    size_t cap;
    uint64_t off;
    size_t len;
};

/* Appended records not yet durable, and the callbacks waiting on them. */
struct wal_waiter {
    wal_done_fn done;
    void *arg;
};

struct wal_batch {
    uint8_t *data; /* encoded frames, back to back */
    size_t len;
    size_t cap;
    struct wal_waiter *waiters;
    size_t nwaiters;
    size_t waiters_cap;
    uint64_t first_seq; /* seq of the first frame in data */
    uint64_t end_seq;   /* seq after the last frame */
};

struct wal {
    char *dir;
    int dir_fd;
    struct wal_config cfg;

    pthread_mutex_t mu;
    pthread_cond_t commit_cv;  /* committer waits for work (and test pause) */
    pthread_cond_t durable_cv; /* wal_wait waiters; CLOCK_MONOTONIC */
    pthread_t committer;
    int committer_started;

    uint64_t next_seq;        /* [mu] next seq to hand out */
    uint64_t durable_next;    /* [mu] seq after the last synced record */
    uint64_t pending_bytes;   /* [mu] appended, not yet durable (pending + in flight) */
    uint64_t retained_bytes;  /* [mu] sum of segs[].size */
    struct wal_batch pending; /* [mu] filled by wal_append */
    int closing;              /* [mu] */
    uint64_t wake_gen;        /* [mu] bumped by wal_wake */

    struct wal_seg *segs; /* [mu] see header comment */
    size_t nsegs;
    size_t segs_cap;

    struct seal_sealer sealer; /* [mu] key and nonces for sealing appends; key NULL = off */

    struct wal_damage_stats dmg_stats; /* [mu] */
    struct wal_damage_seen *dmg_seen;  /* [mu] spans counted so far (bounded) */
    size_t dmg_seen_n;
    size_t dmg_seen_cap;

    /* [committer] */
    struct wal_batch inflight; /* being written */
    struct wal_batch failed;   /* appends queued behind a failed batch */
    int act_fd;                /* active (last) segment */
    uint64_t act_size;         /* == segs[nsegs-1].size between batches */
    int force_roll;            /* a failed write could not be cut: start a new file */

    /* Test hooks, [mu]. */
    int test_fail_err;
    int test_pause;
    int test_held;
    uint64_t sync_count;
};

struct wal_reader {
    struct wal *w;
    uint64_t next_seq; /* seq of the next record to return */
    uint64_t scan_seq; /* seq the frame at file_off + pos must carry (<= next_seq) */
    int fd;            /* current segment, -1 when not positioned */
    uint64_t seg_first;
    /* Snapshot of the wal (refreshed under mu when exhausted): */
    uint64_t lim_seq;     /* durable_next */
    uint64_t lim_off;     /* durable bytes of the current segment */
    uint64_t seg_end_seq; /* first seq of the following segment, or UINT64_MAX */
    int trimmed;          /* the current segment was trimmed while open: its file is final */
    /* buf[pos..len) holds file bytes [file_off + pos, file_off + len). */
    uint8_t *buf;
    size_t pos;
    size_t len;
    size_t cap;
    uint64_t file_off;
    uint64_t dropped_off; /* page cache of [0, dropped_off) already dropped */
    /* Slow path only: resync window, which also holds the damage view last returned. */
    struct wal_win aux;
    struct wal_damage dmg;
    /* Opened (decrypted) sealed records: what rec->data points to for them. */
    uint8_t *plain;
    size_t plain_cap;
};

/* The reader drops the pages it has passed in steps of this many bytes. */
#define WAL_DROP_STEP (1u << 20)

static inline void wal_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wal_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t wal_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wal_get_u64(const uint8_t *p)
{
    return (uint64_t)wal_get_u32(p) | (uint64_t)wal_get_u32(p + 4) << 32;
}

/* Finish a frame's CRC: data_crc is crc32c(0, data, len); the 20 bytes seq | arrival_ms | len
 * (little endian) follow the data in the CRC's coverage. */
uint32_t wal_frame_crc(uint32_t data_crc, uint64_t seq, int64_t arrival_ms, uint32_t len);
/* Encode one frame at p (WAL_FRAME_HDR_LEN + len bytes). */
void wal_frame_encode(uint8_t *p, uint64_t seq, int64_t arrival_ms, const void *data, uint32_t len,
                      uint32_t data_crc);
/* Decode the frame at p[0..avail). Returns 1 and fills *rec (data points into p; rec->sealed
 * says whether it is sealed data, rec->len its stored length) and
 * *frame_len; 0 if more bytes are needed (*frame_len = bytes needed in total, at least the
 * header); HY_ECORRUPT for a bad length or CRC. Never reads past avail. */
int wal_frame_decode(const uint8_t *p, size_t avail, struct wal_record *rec, size_t *frame_len);

/* Could a frame of seq sit at byte off of a segment whose first seq is seg_first? Seqs are
 * dense from the name and each frame takes at least a header. */
static inline int wal_seq_plausible(uint64_t seg_first, uint64_t off, uint64_t seq)
{
    return seq >= seg_first && seq - seg_first <= off / WAL_FRAME_HDR_LEN;
}

void wal_win_fini(struct wal_win *win);
/* Decode the frame at file offset at of fd, reading no byte at or past end. Returns 1 (an
 * intact frame; *rec points into win), 0 if it does not fit before end, HY_ECORRUPT for a bad
 * length or CRC, or a negative I/O error. */
int wal_win_frame(struct wal_win *win, int fd, uint64_t at, uint64_t end, struct wal_record *rec,
                  size_t *frame_len);
/* Borrow a view of up to len file bytes from at (fewer if the file ends first) in *data; it
 * stays valid until the next use of win. Caller ensures at + len <= end. 0 or an error. */
int wal_win_view(struct wal_win *win, int fd, uint64_t at, size_t len, uint64_t end,
                 const uint8_t **data, size_t *data_len);
/* Find the first offset in [from, end) of fd (a segment named seg_first) holding an intact
 * frame with min_seq <= seq < max_seq and a plausible seq for its offset. Returns 1 and sets
 * *found_off and *found_seq, 0 if there is none, or a negative error. */
int wal_resync(struct wal_win *win, int fd, uint64_t seg_first, uint64_t from, uint64_t end,
               uint64_t min_seq, uint64_t max_seq, uint64_t *found_off, uint64_t *found_seq);
/* Count a damaged span (bytes [off, off + len) of segment seg_first, seqs [first_seq, end_seq))
 * once, and log it at ERROR the first time. Caller holds w->mu (or is wal_open). Returns 1 if
 * it was new. */
int wal_damage_note(struct wal *w, uint64_t seg_first, uint64_t off, uint64_t len,
                    uint64_t first_seq, uint64_t end_seq);

/* "<first_seq as 20 digits>.seg" into name[WAL_SEG_NAME_LEN]. */
void wal_seg_name(char name[WAL_SEG_NAME_LEN], uint64_t first_seq);
/* Index of the segment holding seq (greatest first_seq <= seq), or -1 if seq is below the
 * first. Caller holds w->mu. */
long wal_seg_find(const struct wal *w, uint64_t seq);
/* Make room for one more segment entry; caller holds w->mu. 0 or HY_ENOMEM. */
int wal_segs_reserve(struct wal *w);

/* Open-time recovery (wal_recover.c): list segments into w->segs, scan and cut the last one,
 * open it as w->act_fd and set next_seq/durable_next/retained_bytes. Creates the first segment
 * of a new log. Blocks on disk. 0 or a negative error. */
int wal_recover(struct wal *w);

/* Test hooks (unit test and fuzz target only). */
/* The next batch write writes half its bytes, then fails with -err (positive errno). */
void wal_test_fail_writes(struct wal *w, int err);
/* on=1: the committer parks after taking its next batch, before writing; on=0 releases it. */
void wal_test_pause(struct wal *w, int on);
/* 1 while the committer is parked holding a batch. */
int wal_test_held(struct wal *w);
/* Number of fdatasync calls that covered a batch. */
uint64_t wal_test_sync_count(struct wal *w);

#endif
