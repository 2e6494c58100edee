/*
 * deflate_bench: zlib's streaming gzip (what codec_gzip.c uses) against libdeflate on the same
 * data, to back the choice in codec_gzip.c. libdeflate compresses whole buffers only, so to
 * stream with bounded memory it writes one gzip member per 1 MiB buffer; both rows use level 6.
 * Usage: build/deflate_bench [MiB, default 64] [file of sample data, default generated JSON]
 */
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define PIECE (1u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t total = mib << 20;
    unsigned char *in = malloc(total), *out = malloc(PIECE * 2);
    /* JSON-like records with varying fields (less repetitive than one repeated piece). */
    uint32_t x = 2463534242u;
    for (size_t at = 0; at < total;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int n = snprintf((char *)in + at, total - at,
                         "{\"user\":\"u%u\",\"event\":\"%s\",\"ms\":%u,\"path\":\"/p/%u\"}\n",
                         x % 5000, (x >> 8) % 3 ? "click" : "view", x, (x >> 4) % 977);
        if (n <= 0 || (size_t)n >= total - at)
            break;
        at += (size_t)n;
    }
    size_t zout = 0, dout = 0;

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    double t0 = now_s();
    for (size_t at = 0; at < total; at += PIECE) {
        zs.next_in = in + at;
        zs.avail_in = (uInt)(total - at < PIECE ? total - at : PIECE);
        do {
            zs.next_out = out;
            zs.avail_out = PIECE * 2;
            deflate(&zs, at + PIECE >= total ? Z_FINISH : Z_NO_FLUSH);
            zout += PIECE * 2 - zs.avail_out;
        } while (zs.avail_out == 0);
    }
    double tz = now_s() - t0;
    deflateEnd(&zs);

    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    t0 = now_s();
    for (size_t at = 0; at < total; at += PIECE)
        dout += libdeflate_gzip_compress(c, in + at, total - at < PIECE ? total - at : PIECE, out,
                                         PIECE * 2);
    double td = now_s() - t0;
    libdeflate_free_compressor(c);

    printf("| gzip level 6, %zu MiB | MB/s | ratio |\n|---|---|---|\n", mib);
    printf("| zlib streaming, one member | %.0f | %.3f |\n", total / tz / 1e6,
           (double)zout / total);
    printf("| libdeflate, one member per 1 MiB | %.0f | %.3f |\n", total / td / 1e6,
           (double)dout / total);
    free(in);
    free(out);
    return 0;
}
