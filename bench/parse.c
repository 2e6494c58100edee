/*
 * parse: micro-benchmark of PutRecordBatch body parsing, no sockets. Builds one body of
 * 500 records x 1 KiB (boto3's formatting), then measures MB/s of body for the general path
 * (cJSON + model validation + decode, firehose_put_parse), the single-pass scanner
 * (firehose_fastput_parse), and MB/s of base64 text for base64_decode alone. Prints a markdown
 * table.
 *
 * Usage: build/parse [seconds per row, default 1]
 * Links the library it measures, unlike loadgen: the point is to compare its parsers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/firehose/firehose_int.h"
#include "base/base64.h"
#include "base/buf.h"
#include "core/catalog.h"

#define NRECS 500
#define REC_BYTES 1024

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *body;
static size_t body_len;
static char *b64[NRECS];
static size_t b64_len;
static uint8_t dec_out[REC_BYTES + 8];

static int run_slow(void)
{
    struct awsjson_err e;
    awsjson_err_init(&e);
    cJSON *root = NULL;
    struct firehose_put_recs r;
    const char *name;
    size_t name_len;
    int rc = firehose_put_parse(1, body, body_len, &root, &name, &name_len, &r, &e);
    if (rc == 0)
        firehose_put_recs_fini(&r);
    cJSON_Delete(root);
    awsjson_err_fini(&e);
    return rc;
}

static int run_fast(void)
{
    struct firehose_put_recs r;
    const char *name;
    size_t name_len;
    int rc = firehose_fastput_parse(1, body, body_len, &name, &name_len, &r);
    if (rc == 0)
        firehose_put_recs_fini(&r);
    return rc;
}

static int run_b64(void)
{
    for (int i = 0; i < NRECS; i++) {
        size_t n;
        if (base64_decode(b64[i], b64_len, dec_out, &n))
            return -1;
    }
    return 0;
}

/* MB/s of bytes_per_run, running fn for about secs seconds. */
static double measure(int (*fn)(void), size_t bytes_per_run, double secs)
{
    for (int i = 0; i < 3; i++) /* warm-up */
        if (fn())
            return -1;
    long runs = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 10; i++)
            if (fn())
                return -1;
        runs += 10;
        t = now_s();
    } while (t - t0 < secs);
    return (double)bytes_per_run * (double)runs / (t - t0) / 1e6;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0)
        secs = 1.0;
    catalog_json_init();
    srand(42);
    struct buf b;
    buf_init(&b, 16u << 20);
    int rc = buf_append_str(&b, "{\"DeliveryStreamName\": \"bench\", \"Records\": [");
    uint8_t raw[REC_BYTES];
    b64_len = BASE64_ENCODED_LEN(REC_BYTES);
    for (int i = 0; i < NRECS && !rc; i++) {
        for (size_t k = 0; k < sizeof raw; k++)
            raw[k] = (uint8_t)rand();
        b64[i] = malloc(b64_len);
        if (!b64[i])
            return 1;
        base64_encode(raw, sizeof raw, b64[i]);
        rc = buf_append_str(&b, i ? ", {\"Data\": \"" : "{\"Data\": \"");
        if (!rc)
            rc = buf_append(&b, b64[i], b64_len);
        if (!rc)
            rc = buf_append_str(&b, "\"}");
    }
    if (!rc)
        rc = buf_append_str(&b, "]}");
    if (rc) {
        fprintf(stderr, "parse: cannot build the body\n");
        return 1;
    }
    body = b.data;
    body_len = b.len;
    if (run_slow() || run_fast()) {
        fprintf(stderr, "parse: a parser rejected the benchmark body\n");
        return 1;
    }
    double slow = measure(run_slow, body_len, secs);
    double fast = measure(run_fast, body_len, secs);
    double dec = measure(run_b64, b64_len * NRECS, secs);
    printf("PutRecordBatch body: %d records x %d B, %zu bytes\n\n", NRECS, REC_BYTES, body_len);
    printf("| path | MB/s |\n|---|---:|\n");
    printf("| cJSON + validate + decode (firehose_put_parse) | %.0f |\n", slow);
    printf("| single pass (firehose_fastput_parse) | %.0f |\n", fast);
    printf("| base64_decode alone (MB/s of base64 text) | %.0f |\n", dec);
    printf("\nspeed-up of the single pass over cJSON: %.1fx\n", fast / slow);
    buf_fini(&b);
    for (int i = 0; i < NRECS; i++)
        free(b64[i]);
    return 0;
}
