/*
 * pipeline_bench: the delivery pipeline against its parts, in one process (bench/README.md).
 *
 *   codecs      per codec: raw codec MB/s (codec_write of the data in 1 MiB pieces, output
 *               discarded) beside ingest-to-object MB/s (the records already in a stream log,
 *               the delivery consumer reading them, compressing and writing objects through
 *               fssink, fsync included, until its cursor passes the last record)
 *   partitions  dynamic partitioning with 1, 100, 1000 partitions (JQ "{k: .k}"): MB/s,
 *               objects/s and the peak RSS of a child process running only that row
 *   jq          MetadataExtraction records/s on 1 KiB JSON records (libjq through jqextract)
 *
 * Usage: build/pipeline_bench [MiB per row, default 64] [dir, default build/bench-data]
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "core/consumer.h"
#include "core/stats.h"
#include "deliver/delivery.h"
#include "pipeline/codec.h"
#include "pipeline/jqextract.h"
#include "sink/fssink.h"
#include "stream/streamlog.h"
#include "stream/wal.h"

#define REC_LEN 1024

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A 1 KiB JSON record for partition key k (of n). */
static size_t make_record(char *out, uint64_t i, unsigned n)
{
    int len = snprintf(out, REC_LEN,
                       "{\"k\":\"p%u\",\"seq\":%" PRIu64 ",\"user\":\"user-%" PRIu64
                       "\",\"event\":\"click\",\"path\":\"/products/%" PRIu64 "\",\"pad\":\"",
                       (unsigned)(i % n), i, i % 977, i % 131);
    while (len < REC_LEN - 3) {
        out[len] = (char)('a' + (i * 7 + (uint64_t)len) % 26);
        len++;
    }
    out[len++] = '"';
    out[len++] = '}';
    out[len++] = '\n';
    return (size_t)len;
}

static int discard(void *arg, const void *d, size_t n)
{
    *(uint64_t *)arg += n;
    return 0;
}

static double raw_codec(enum codec_kind k, size_t total, double *ratio)
{
    char *chunk = malloc(1 << 20);
    size_t per = (1 << 20) / REC_LEN, used = 0;
    for (size_t i = 0; i < per; i++)
        used += make_record(chunk + used, i, 100);
    struct codec *c = codec_new(k);
    uint64_t out = 0;
    double t0 = now_s();
    codec_begin(c, "x", 0, discard, &out);
    for (size_t done = 0; done < total; done += used)
        codec_write(c, chunk, used);
    codec_finish(c);
    double t = now_s() - t0;
    codec_free(c);
    free(chunk);
    *ratio = (double)out / (double)total;
    return total / t / 1e6;
}

static void advanced(void *rt, uint64_t cursor)
{
    streamlog_trim(rt, cursor);
}

struct done {
    _Atomic int n;
};

static void on_done(void *arg, int status, uint64_t first)
{
    atomic_fetch_add(&((struct done *)arg)->n, 1);
}

/* Fill a fresh log in dir with total bytes of records for n partitions. Returns records. */
static uint64_t fill_log(struct streamlog *w, size_t total, unsigned n)
{
    enum { BATCH = 500 };
    static char text[BATCH][REC_LEN];
    struct streamlog_rec recs[BATCH];
    struct done dn = {0};
    uint64_t i = 0;
    int batches = 0;
    for (size_t bytes = 0; bytes < total;) {
        for (int j = 0; j < BATCH; j++, i++) {
            recs[j].len = make_record(text[j], i, n);
            recs[j].data = text[j];
            bytes += recs[j].len;
        }
        struct streamlog_append a = {
            .recs = recs, .n = BATCH, .arrival_ms = hytime_now_ms(), .done = on_done, .arg = &dn};
        if (streamlog_append(w, &a) < 0)
            abort();
        batches++;
        while (atomic_load(&dn.n) < batches)
            usleep(100); /* the texts are reused: wait for this append */
    }
    return i;
}

struct row {
    double mbps;
    double objects_per_s;
    uint64_t objects;
};

static struct row deliver(const char *dir, size_t total, const char *codec, unsigned parts,
                          int dynamic)
{
    char log_dir[512], s3[512], state[512];
    struct row r = {0};
    snprintf(log_dir, sizeof log_dir, "%s/log", dir);
    snprintf(s3, sizeof s3, "%s/s3", dir);
    snprintf(state, sizeof state, "%s/delivery.state", dir);
    fsutil_remove_tree(dir);
    fsutil_mkdirs(dir, 0755);
    struct streamlog_config cfg = {0};
    struct streamlog *w = NULL;
    if (streamlog_open(&wal_backend, log_dir, &cfg, &w) < 0)
        abort();
    uint64_t n = fill_log(w, total, parts);
    struct stream_stats stats;
    memset(&stats, 0, sizeof stats);
    struct consumer_env env = {.stream_name = "bench",
                               .version = 1,
                               .create_ms = 1,
                               .log = w,
                               .stats = &stats,
                               .state_path = state,
                               .sink = &fssink_ops,
                               .sink_ctx = s3,
                               .advanced = advanced,
                               .rt = w};
    struct delivery_target t = {.stream_name = "bench",
                                .version = 1,
                                .bucket = "b",
                                .size_bytes = 8u << 20,
                                .interval_s = 0,
                                .create_ms = 1,
                                .compression = codec};
    if (dynamic) {
        t.partitioned = 1;
        t.prefix = "k=!{partitionKeyFromQuery:k}/";
        t.error_prefix = "err/!{firehose:error-output-type}/";
        t.jq_query = "{k: .k}";
        t.max_partitions = parts + 1;
        /* One batch holds every partition; cut by the interval, not by a partition's size. */
        t.size_bytes = 128u << 20;
        t.interval_s = 900;
    }
    struct delivery *d = NULL;
    double t0 = now_s();
    if (delivery_start(&env, &t, &d) < 0)
        abort();
    if (dynamic) {
        /* Everything is durable: a flushing stop delivers it all at once. */
        delivery_stop(d, 1);
    } else {
        while (delivery_cursor(d) <= n)
            usleep(1000);
        delivery_stop(d, 1);
    }
    double dt = now_s() - t0;
    r.mbps = total / dt / 1e6;
    r.objects = stats.delivery_objects;
    r.objects_per_s = stats.delivery_objects / dt;
    streamlog_close(w);
    fsutil_remove_tree(dir);
    return r;
}

static long peak_rss_kib_child(const char *dir, size_t total, unsigned parts, struct row *out)
{
    int fd[2];
    if (pipe(fd) < 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct row r = deliver(dir, total, NULL, parts, 1);
        if (write(fd[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], out, sizeof *out) != (ssize_t)sizeof *out)
        memset(out, 0, sizeof *out);
    close(fd[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    const char *dir = argc > 2 ? argv[2] : "build/bench-data/pipeline";
    size_t total = mib << 20;
    static const enum codec_kind kinds[] = {CODEC_NONE,   CODEC_GZIP,          CODEC_ZIP,
                                            CODEC_SNAPPY, CODEC_HADOOP_SNAPPY, CODEC_ZSTD};

    printf("## Codecs (%zu MiB of 1 KiB JSON records per row)\n\n", mib);
    printf("| codec | raw codec MB/s | ratio | ingest-to-object MB/s | pipeline/raw |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        double ratio = 1;
        double raw = kinds[i] == CODEC_NONE ? 0 : raw_codec(kinds[i], total, &ratio);
        struct row r = deliver(dir, total, codec_name(kinds[i]), 1, 0);
        if (kinds[i] == CODEC_NONE)
            printf("| %s | - | 1.00 | %.0f | - |\n", codec_name(kinds[i]), r.mbps);
        else
            printf("| %s | %.0f | %.3f | %.0f | %.2f |\n", codec_name(kinds[i]), raw, ratio, r.mbps,
                   r.mbps / raw);
        fflush(stdout);
    }

    printf("\n## Dynamic partitioning (uncompressed, %zu MiB, one batch, JQ {k: .k})\n\n", mib);
    printf("| partitions | MB/s | objects | objects/s | peak RSS MiB |\n|---|---|---|---|---|\n");
    static const unsigned parts[] = {1, 100, 1000};
    for (size_t i = 0; i < 3; i++) {
        struct row r;
        long rss = peak_rss_kib_child(dir, total, parts[i], &r);
        printf("| %u | %.0f | %" PRIu64 " | %.0f | %.1f |\n", parts[i], r.mbps, r.objects,
               r.objects_per_s, rss / 1024.0);
        fflush(stdout);
    }

    printf("\n## JQ extraction (1 KiB records)\n\n");
    struct jqextract *jx = NULL;
    const char *reason;
    jqextract_new("{k: .k}", &jx, &reason);
    char rec[REC_LEN];
    struct buf keys;
    buf_init(&keys, 4096);
    size_t nrec = total / REC_LEN, nk;
    double t0 = now_s();
    for (size_t i = 0; i < nrec; i++) {
        size_t len = make_record(rec, i, 100);
        buf_reset(&keys);
        jqextract_run(jx, rec, len, &keys, &nk, &reason);
    }
    double dt = now_s() - t0;
    printf("| engine | records/s |\n|---|---|\n| libjq via jqextract | %.0f |\n", nrec / dt);
    /* The same records for the jq command line (bench/pipeline.sh times it). */
    char path[512];
    snprintf(path, sizeof path, "%s.jq-input", dir);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < nrec; i++) {
        size_t len = make_record(rec, i, 100);
        fwrite(rec, 1, len, f);
    }
    if (f)
        fclose(f);
    jqextract_free(jx);
    buf_fini(&keys);
    return 0;
}
