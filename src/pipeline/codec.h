/*
 * codec: streaming object compressors for delivery (firehose-reference.md section 1.9). One
 * struct codec compresses one object at a time: codec_begin starts an object, codec_write feeds
 * its uncompressed bytes in any pieces, codec_finish writes the trailer; the compressed bytes go
 * out through the caller's callback as they are produced. The same codec is reused for the next
 * object (its state is reset, not reallocated), so delivery allocates nothing per object.
 *
 * Bounded memory: each codec holds a fixed amount of state, whatever the object's size:
 *   GZIP           zlib deflate (level 6, 32 KiB window: about 260 KiB) + 128 KiB output buffer
 *   ZIP            the same deflate state (raw) + output buffer; one entry, streamed with a data
 *                  descriptor, so nothing of the object is kept to write the central directory
 *   Snappy         64 KiB input block + its worst-case compressed size (framing format)
 *   HADOOP_SNAPPY  the same (Hadoop BlockCompressorStream framing, one chunk per block)
 *   ZSTD           libzstd streaming context at level 3 (a few MiB, fixed by the level)
 *
 * Output is a pure function of the input bytes and the begin arguments (no clock, no random),
 * so a replayed batch writes the same object byte for byte.
 *
 * Names: the AWS CompressionFormat values (UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY) plus
 * ZSTD, which AWS shapes never carry (hydrant's own stream options only).
 *
 * A codec is used by one thread at a time.
 */
#ifndef HY_CODEC_H
#define HY_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum codec_kind {
    CODEC_NONE = 0,
    CODEC_GZIP,
    CODEC_ZIP,
    CODEC_SNAPPY,
    CODEC_HADOOP_SNAPPY,
    CODEC_ZSTD,
};

/* Where compressed bytes go: 0 or a negative error (the codec then fails; only free it). */
typedef int (*codec_out_fn)(void *arg, const void *data, size_t len);

struct codec;

/* The kind named by name (exact, case-sensitive: "UNCOMPRESSED", "GZIP", "ZIP", "Snappy",
 * "HADOOP_SNAPPY", "ZSTD"). 0, or HY_EINVAL for an unknown name. */
int codec_from_name(const char *name, enum codec_kind *out);
/* The name of kind (static storage). */
const char *codec_name(enum codec_kind kind);
/* Firehose's default file extension for kind: "" (UNCOMPRESSED), ".gz", ".zip", ".snappy",
 * ".snappy", ".zst". Static storage. */
const char *codec_extension(enum codec_kind kind);

/* Allocate a codec of kind (its whole fixed state). NULL on allocation failure. CODEC_NONE gives
 * a pass-through codec. Caller frees with codec_free. */
struct codec *codec_new(enum codec_kind kind);
void codec_free(struct codec *c);
enum codec_kind codec_kind_of(const struct codec *c);

/* Start an object whose compressed bytes go to out(arg, ...). entry_name names the ZIP entry
 * (ignored by other kinds); mtime_ms is the ZIP entry's modification time (epoch ms, UTC). Ends
 * any object in progress without its trailer. 0 or HY_ENOMEM. */
int codec_begin(struct codec *c, const char *entry_name, int64_t mtime_ms, codec_out_fn out,
                void *arg);
/* Compress len bytes. 0, or the out callback's error, or HY_E2BIG (a ZIP entry past 4 GiB). */
int codec_write(struct codec *c, const void *data, size_t len);
/* Flush everything and write the trailer. 0 or an error as codec_write. */
int codec_finish(struct codec *c);

#endif
