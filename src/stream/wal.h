/*
 * wal: one stream's durable log. Records are appended in frames to segment files in a directory;
 * a committer thread owned by the wal writes each batch of appends and covers them with one
 * fdatasync (group commit), then calls every waiting append's callback. A record is durable, and
 * may be acknowledged, only after its callback said so.
 *
 * Segment files are named <first-seq as 20 digits>.seg. Frame layout (little endian):
 *     u32 len | u32 crc | u64 seq | i64 arrival_ms | len bytes of data
 * crc is CRC-32C over the data followed by the 20 bytes seq | arrival_ms | len (little endian);
 * data comes first so appenders can checksum it before taking the lock. Sequence numbers start
 * at 1 and are dense within a segment; frames claiming more than 16 MiB count as corrupt.
 * Encryption at rest (stream/seal.h): while wal_seal() has set a key, frames are sealed: the top
 * bit of len is set and the data is the sealed form of the record (key id | nonce | AES-256-GCM
 * ciphertext | tag); crc covers those stored bytes as always, so recovery and resync work on
 * sealed and plain frames alike. Readers open sealed frames with the keys of wal_config.ring;
 * a frame whose key is missing (HY_ENOKEY) or does not verify (HY_ECORRUPT) is an error, never
 * a record.
 * A segment rolls when a batch starts while the active one holds >= segment_bytes, so a segment
 * may exceed segment_bytes by up to one batch (<= max_pending_bytes).
 *
 * Damage (bytes that are not the frames written). A bad frame is one whose length, CRC or seq
 * is wrong. Recovery and readers resynchronise the same way: the next offset holding an intact
 * frame whose seq is at least the one expected, below the segment's end and plausible for its
 * offset (seq - segment first seq <= offset / 24). What lies between is a damaged span.
 *  - Recovery (wal_open) scans the last segment. A damaged span followed by an intact frame is
 *    corruption: it is logged at ERROR and counted, and every intact frame is kept. A bad region
 *    that runs to the end of the file is a torn tail (or corruption of the last frames: the two
 *    look alike) and is cut, logged at WARN: its bytes are first copied to
 *    <dir>/damaged/<segment first seq, 20 digits>-<byte offset>.bin (fsynced), then the log
 *    continues in a NEW empty segment named expected + cut_bytes / 24 + 1, created before the
 *    cut, so no sequence number the cut bytes could have held (and that may have been
 *    acknowledged) is ever handed out again; the gap is durable in the segment names. If the
 *    copy cannot be made the bytes stay in the old segment (readers then report them).
 *  - Earlier segments are not scanned at open (that would make open cost proportional to the
 *    retained log); readers find their damage.
 *  - Sequence numbers are therefore increasing but not always dense across segments: a segment
 *    that ends cleanly before the next one's first seq leaves a gap (a recovery cut; those seqs
 *    were never handed out again), which readers skip silently. The seqs in a damaged span are
 *    reported once by wal_reader_next (WAL_READ_DAMAGED), then reading continues.
 *
 * Threads: wal_append() may be called from any thread; the callback runs on the committer
 * thread. Readers (wal_reader_*) run on a consumer's own thread; each reader is used by one
 * thread. wal_trim() and the counters are thread-safe.
 */
#ifndef HY_WAL_H
#define HY_WAL_H

#include <stddef.h>
#include <stdint.h>

struct wal;
struct wal_reader;
struct seal_key;
struct seal_ring;

/* The largest record: Kinesis's 1 MiB of data plus partition key, with room for a front's
 * framing (Firehose's 1,000 KiB is checked by its front). */
#define WAL_RECORD_MAX_LEN (1048576u + 4096u)

struct wal_config {
    size_t segment_bytes;     /* roll to a new segment past this size; default 64 MiB */
    size_t max_pending_bytes; /* appended but not yet written; past it appends get HY_EBUSY */
    uint64_t quota_bytes;     /* retained log bytes; past it appends get HY_EQUOTA; 0 = none */
    struct seal_ring *ring;   /* keys to open sealed frames with; NULL = none (borrowed) */
};

/* A record to append: a borrowed view, copied during wal_append(). */
struct wal_rec {
    const void *data;
    size_t len;
};

/* Called exactly once per successful wal_append(), on the committer thread: status 0 once the
 * records are durable, or a negative error (-ENOSPC, -EIO...) if they were not written; then
 * they are not in the log and their sequence numbers are reused. */
typedef void (*wal_done_fn)(void *arg, int status);

/* A record read back. data is borrowed: valid until the next call on the same reader. */
struct wal_record {
    uint64_t seq;
    int64_t arrival_ms;
    const uint8_t *data;
    size_t len;
    int sealed; /* internal to the wal: the frame's data is sealed (wal_reader_next opens it) */
};

/* wal_reader_next() result: a damaged span was passed; wal_reader_damage() describes it. */
#define WAL_READ_DAMAGED 2
/* A damaged span's bytes are shown up to this many. */
#define WAL_DAMAGE_VIEW_MAX_LEN (1024u * 1024)

/* A damaged span: what the log lost there, and where. data is borrowed: valid until the next
 * call on the same reader. */
struct wal_damage {
    uint64_t first_seq;  /* == the seq the reader expected next */
    uint64_t seq_count;  /* seqs [first_seq, first_seq + seq_count) are lost; may be 0 when
                          * only bytes between two intact frames are damaged */
    uint64_t segment;    /* first seq of the segment file (its name) holding the span */
    uint64_t offset;     /* byte offset of the span in that file */
    uint64_t len;        /* damaged bytes (the true length; may be 0 for a bare seq gap) */
    const uint8_t *data; /* raw damaged bytes: the first data_len of them */
    size_t data_len;     /* <= min(len, WAL_DAMAGE_VIEW_MAX_LEN) */
};

/* Damage found since wal_open: each span counted once, whoever found it. */
struct wal_damage_stats {
    uint64_t spans;     /* damaged spans (recovery and readers) */
    uint64_t bytes;     /* bytes in them */
    uint64_t cuts;      /* torn tails cut by recovery (0 or 1 per open) */
    uint64_t cut_bytes; /* bytes cut (copied to damaged/ first) */
};

void wal_config_default(struct wal_config *cfg);
/* Open (create if needed) the log in dir, recover it and start its committer thread.
 * Returns 0 and sets *out, or a negative error. */
int wal_open(const char *dir, const struct wal_config *cfg, struct wal **out);
/* Stop the committer after writing what is pending (callbacks fire), close files, free.
 * Appends racing with close get HY_ECLOSED. Close every reader and return from wal_wait first
 * (wal_wake helps); neither may touch w afterwards. Blocks on the final write. */
void wal_close(struct wal *w);

/* Append n records with one arrival time. On 0, *first_seq is the first record's sequence number
 * (the rest follow densely) and done(arg, status) will be called exactly once (done may be NULL).
 * On error (HY_EQUOTA over quota, HY_EBUSY too much pending, HY_ECLOSED, HY_E2BIG a record over
 * WAL_RECORD_MAX_LEN, HY_EINVAL n == 0, HY_ENOMEM) done is never called and nothing is appended.
 * Never blocks on disk: copies the records under a mutex and hands them to the committer. */
int wal_append(struct wal *w, const struct wal_rec *recs, size_t n, int64_t arrival_ms,
               uint64_t *first_seq, wal_done_fn done, void *arg);

/* Seal every record appended from now on with key (borrowed; it must outlive w), or stop
 * sealing (NULL). 0, or -EIO when no random salt can be drawn (sealing then stays off). */
int wal_seal(struct wal *w, const struct seal_key *key);

/* Next sequence number after the last durable record (1 when empty). */
uint64_t wal_durable_next(struct wal *w);
/* Block until wal_durable_next(w) > seq, the wal closes, or timeout_ms passes.
 * Returns 1 if the condition holds, 0 on timeout. */
int wal_wait(struct wal *w, uint64_t seq, int timeout_ms);
/* Wake every waiter in wal_wait (used at shutdown). */
void wal_wake(struct wal *w);
/* Delete every segment whose records are all below min_seq (every consumer has passed them). */
int wal_trim(struct wal *w, uint64_t min_seq);
/* Bytes of the log retained on disk (segments only; damaged/ copies are not counted). */
uint64_t wal_retained_bytes(struct wal *w);
/* Copy the damage counters into *out. Thread-safe, never blocks on disk. */
void wal_damage_stats_get(struct wal *w, struct wal_damage_stats *out);

/* Open a reader at sequence number from_seq (>= first retained). Returns 0 or a negative error. */
int wal_reader_open(struct wal *w, uint64_t from_seq, struct wal_reader **out);
/* Read the next durable record. Returns 1 with *rec filled, 0 if none is durable yet,
 * WAL_READ_DAMAGED when it passed a damaged span (*rec untouched; wal_reader_damage() says
 * which seqs and bytes; the next call continues after it), or a negative error (HY_ENOTFOUND:
 * the segment holding the next seq was trimmed; HY_ENOMEM; I/O errors). Each span is reported
 * once per pass. Sealed frames come back opened; HY_ENOKEY / HY_ECORRUPT when one cannot be
 * (the reader stays before it). rec->seq is increasing but may jump: past a damaged span (first_seq
 * + seq_count) and past a recovery gap (silently). Never blocks on other threads' I/O. */
int wal_reader_next(struct wal_reader *r, struct wal_record *rec);
/* The span of the last WAL_READ_DAMAGED; borrowed, valid until the next call on r. */
const struct wal_damage *wal_reader_damage(const struct wal_reader *r);
/* Reposition at from_seq. */
int wal_reader_seek(struct wal_reader *r, uint64_t from_seq);
void wal_reader_close(struct wal_reader *r);

/* The WAL as a stream log backend (wal_backend.c); fronts and consumers use it through
 * stream/streamlog.h only. */
struct streamlog_backend;
extern const struct streamlog_backend wal_backend;

#endif
