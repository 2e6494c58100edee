/*
 * main: command-line entry. Parses flags (each also readable from HYDRANT_<FLAG>), prepares the
 * data directory, and is the one place that wires the parts together: the log backend, the
 * consumers and the sink into the service; the fronts over the service; the router's table over
 * the fronts; the HTTP loops over the router. Owns the only process-global state: the server
 * pointer the signal handler stops.
 */
#include "api/admin/admin.h"
#include "api/firehose/firehose.h"
#include "api/kinesis/kinesis.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/consumer.h"
#include "core/datastream.h"
#include "core/service.h"
#include "deliver/delivery.h"
#include "net/http.h"
#include "net/router.h"
#include "sink/fssink.h"
#include "stream/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define HYDRANT_VERSION "0.1.0"

/* The HTTP event loops: v[0] listens and deals connections to the others. */
struct loops {
    struct http_server **v;
    pthread_t *threads;
    size_t n;
};

static struct loops *volatile the_loops;

static void on_signal(int sig)
{
    (void)sig;
    struct loops *l = the_loops;
    if (!l)
        return;
    /* http_server_stop only writes an eventfd: async-signal-safe. */
    for (size_t i = 0; i < l->n; i++)
        http_server_stop(l->v[i]);
}

static int loops_new(struct loops *l, const struct http_config *cfg, struct router *r, size_t n)
{
    l->v = hy_calloc(n, sizeof *l->v);
    l->threads = hy_calloc(n, sizeof *l->threads);
    if (!l->v || !l->threads)
        return HY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        l->v[i] = http_server_new(cfg, router_handle, r);
        if (!l->v[i])
            return HY_ENOMEM;
        l->n = i + 1;
    }
    return 0;
}

static void *loop_main(void *arg)
{
    http_server_run(arg);
    return NULL;
}

/* Run loop 0 on this thread and the others on their own; returns when all have stopped. */
static int loops_run(struct loops *l)
{
    size_t started = 1;
    for (size_t i = 1; i < l->n; i++) {
        if (pthread_create(&l->threads[i], NULL, loop_main, l->v[i]))
            break;
        started++;
    }
    int rc = http_server_run(l->v[0]);
    /* The listener has stopped: make sure every sibling drains and returns too. */
    for (size_t i = 1; i < started; i++)
        http_server_stop(l->v[i]);
    for (size_t i = 1; i < started; i++)
        pthread_join(l->threads[i], NULL);
    return rc;
}

static void loops_free(struct loops *l)
{
    for (size_t i = l->n; i > 0; i--)
        http_server_free(l->v[i - 1]);
    hy_free(l->v);
    hy_free(l->threads);
}

struct options {
    const char *listen;
    const char *data_dir;
    const char *log_level;
    const char *region;
    const char *account_id;
    const char *streams_file;
    unsigned long long quota_mib;
    unsigned long long io_threads;
    unsigned long long max_streams;
    unsigned long long append_wait_ms;
    unsigned long long kinesis_max_shards;
    unsigned long long kinesis_hour_ms;
    unsigned long long kinesis_shard_kib_s;
    unsigned long long kinesis_shard_records_s;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: hydrant serve [flags]\n"
        "       hydrant version\n\n"
        "flags (each may also come from the environment variable shown):\n"
        "  --listen HOST:PORT     address to serve on (HYDRANT_LISTEN; default 127.0.0.1:4566)\n"
        "  --data-dir DIR         where streams, logs and local buckets live\n"
        "                         (HYDRANT_DATA_DIR; default ./hydrant-data)\n"
        "  --log-level LEVEL      error, warn, info or debug (HYDRANT_LOG_LEVEL; default info)\n"
        "  --region REGION        region shown in ARNs (HYDRANT_REGION; default us-east-1)\n"
        "  --account-id ID        account shown in ARNs and errors\n"
        "                         (HYDRANT_ACCOUNT_ID; default 000000000000)\n"
        "  --stream-quota-mib N   undelivered bytes kept per stream before PutRecord answers\n"
        "                         \"Slow down.\" (HYDRANT_STREAM_QUOTA_MIB; default 1024)\n"
        "  --io-threads N         HTTP event-loop threads (HYDRANT_IO_THREADS; default 2)\n"
        "  --max-streams N        delivery streams allowed (HYDRANT_MAX_STREAMS; default 5000)\n"
        "  --streams FILE         JSON array of CreateDeliveryStream inputs applied at start\n"
        "                         (HYDRANT_STREAMS; default none)\n"
        "  --append-wait-ms N     how long a put may wait for room in a stream's log before\n"
        "                         \"Slow down.\" (HYDRANT_APPEND_WAIT_MS; default 5000)\n"
        "  --kinesis-max-shards N open Kinesis data stream shards allowed\n"
        "                         (HYDRANT_KINESIS_MAX_SHARDS; default 256)\n"
        "  --kinesis-hour-ms N    length of a retention hour of data streams, for tests\n"
        "                         (HYDRANT_KINESIS_HOUR_MS; default 3600000)\n"
        "  --kinesis-shard-kib-per-s N  write rate of a PROVISIONED shard, 0 = unlimited\n"
        "                         (HYDRANT_KINESIS_SHARD_KIB_PER_S; default 1024)\n"
        "  --kinesis-shard-records-per-s N  records/s of a PROVISIONED shard, 0 = unlimited\n"
        "                         (HYDRANT_KINESIS_SHARD_RECORDS_PER_S; default 1000)\n");
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || end == s)
        return HY_EINVAL;
    *out = v;
    return 0;
}

static int parse_flags(int argc, char **argv, struct options *o)
{
    o->listen = env_or("HYDRANT_LISTEN", "127.0.0.1:4566");
    o->data_dir = env_or("HYDRANT_DATA_DIR", "./hydrant-data");
    o->log_level = env_or("HYDRANT_LOG_LEVEL", "info");
    o->region = env_or("HYDRANT_REGION", "us-east-1");
    o->account_id = env_or("HYDRANT_ACCOUNT_ID", "000000000000");
    const char *quota = env_or("HYDRANT_STREAM_QUOTA_MIB", "1024");
    const char *io_threads = env_or("HYDRANT_IO_THREADS", "2");
    const char *max_streams = env_or("HYDRANT_MAX_STREAMS", "5000");
    const char *append_wait = env_or("HYDRANT_APPEND_WAIT_MS", "5000");
    o->streams_file = env_or("HYDRANT_STREAMS", NULL);
    const char *kmax = env_or("HYDRANT_KINESIS_MAX_SHARDS", "256");
    const char *khour = env_or("HYDRANT_KINESIS_HOUR_MS", "3600000");
    const char *kkib = env_or("HYDRANT_KINESIS_SHARD_KIB_PER_S", "1024");
    const char *krec = env_or("HYDRANT_KINESIS_SHARD_RECORDS_PER_S", "1000");
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'v'},
        {"region", required_argument, NULL, 'r'},
        {"account-id", required_argument, NULL, 'a'},
        {"stream-quota-mib", required_argument, NULL, 'q'},
        {"io-threads", required_argument, NULL, 't'},
        {"max-streams", required_argument, NULL, 'm'},
        {"streams", required_argument, NULL, 's'},
        {"append-wait-ms", required_argument, NULL, 'w'},
        {"kinesis-max-shards", required_argument, NULL, 'K'},
        {"kinesis-hour-ms", required_argument, NULL, 'H'},
        {"kinesis-shard-kib-per-s", required_argument, NULL, 'B'},
        {"kinesis-shard-records-per-s", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->listen = optarg;
            break;
        case 'd':
            o->data_dir = optarg;
            break;
        case 'v':
            o->log_level = optarg;
            break;
        case 'r':
            o->region = optarg;
            break;
        case 'a':
            o->account_id = optarg;
            break;
        case 'q':
            quota = optarg;
            break;
        case 't':
            io_threads = optarg;
            break;
        case 'm':
            max_streams = optarg;
            break;
        case 's':
            o->streams_file = optarg;
            break;
        case 'w':
            append_wait = optarg;
            break;
        case 'K':
            kmax = optarg;
            break;
        case 'H':
            khour = optarg;
            break;
        case 'B':
            kkib = optarg;
            break;
        case 'R':
            krec = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return HY_EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "hydrant: unexpected argument '%s'\n", argv[optind]);
        return HY_EINVAL;
    }
    if (parse_u64(quota, &o->quota_mib) || o->quota_mib == 0) {
        fprintf(stderr, "hydrant: --stream-quota-mib needs a positive whole number\n");
        return HY_EINVAL;
    }
    if (parse_u64(io_threads, &o->io_threads) || o->io_threads == 0 || o->io_threads > 64) {
        fprintf(stderr, "hydrant: --io-threads needs a whole number from 1 to 64\n");
        return HY_EINVAL;
    }
    if (parse_u64(max_streams, &o->max_streams) || o->max_streams == 0 ||
        o->max_streams > 1000000) {
        fprintf(stderr, "hydrant: --max-streams needs a whole number from 1 to 1000000\n");
        return HY_EINVAL;
    }
    if (parse_u64(append_wait, &o->append_wait_ms) || o->append_wait_ms == 0 ||
        o->append_wait_ms > 600000) {
        fprintf(stderr, "hydrant: --append-wait-ms needs a whole number from 1 to 600000\n");
        return HY_EINVAL;
    }
    if (parse_u64(kmax, &o->kinesis_max_shards) || o->kinesis_max_shards == 0 ||
        o->kinesis_max_shards > 100000) {
        fprintf(stderr, "hydrant: --kinesis-max-shards needs a whole number from 1 to 100000\n");
        return HY_EINVAL;
    }
    if (parse_u64(khour, &o->kinesis_hour_ms) || o->kinesis_hour_ms == 0 ||
        o->kinesis_hour_ms > 3600000) {
        fprintf(stderr, "hydrant: --kinesis-hour-ms needs a whole number from 1 to 3600000\n");
        return HY_EINVAL;
    }
    if (parse_u64(kkib, &o->kinesis_shard_kib_s) || o->kinesis_shard_kib_s > (1ull << 30) ||
        parse_u64(krec, &o->kinesis_shard_records_s) || o->kinesis_shard_records_s > (1ull << 30)) {
        fprintf(stderr, "hydrant: --kinesis-shard-kib-per-s and --kinesis-shard-records-per-s "
                        "need a whole number (0 = unlimited)\n");
        return HY_EINVAL;
    }
    return 0;
}

/* Create the data dir if needed and hold an exclusive lock on it, so two processes never share
 * one log. The lock fd stays open for the life of the process. */
static int prepare_data_dir(const char *dir)
{
    int rc = fsutil_mkdirs(dir, 0755);
    if (rc) {
        LOG_ERROR("main", "cannot create the data directory", "dir=%s error=%s", dir,
                  hy_strerror(rc));
        return rc;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/LOCK", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        LOG_ERROR("main", "the data directory is not writable", "dir=%s error=%s", dir,
                  hy_strerror(rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        rc = -errno;
        LOG_ERROR("main", "the data directory is in use by another hydrant", "dir=%s", dir);
        close(fd);
        return rc;
    }
    return 0;
}

static int serve(int argc, char **argv)
{
    struct options o;
    int rc = parse_flags(argc, argv, &o);
    if (rc)
        return 2;
    int level;
    if (log_level_parse(o.log_level, &level)) {
        fprintf(stderr, "hydrant: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    if (prepare_data_dir(o.data_dir))
        return 1;

    struct http_config hcfg;
    http_config_default(&hcfg);
    char s3_root[PATH_MAX];
    int n = snprintf(s3_root, sizeof s3_root, "%s/s3", o.data_dir);
    if (n < 0 || (size_t)n >= sizeof s3_root) {
        LOG_ERROR("main", "data directory path too long", "dir=%s", o.data_dir);
        return 1;
    }
    static const struct consumer_ops *const consumers[] = {&delivery_consumer};
    struct service_config scfg = {
        .data_dir = o.data_dir,
        .quota_bytes = (uint64_t)o.quota_mib << 20,
        .max_streams = (size_t)o.max_streams,
        .append_wait_ms = (int)o.append_wait_ms,
        .log_backend = &wal_backend,
        .consumers = consumers,
        .nconsumers = sizeof consumers / sizeof consumers[0],
        .sink = &fssink_ops,
        .sink_ctx = s3_root,
    };
    struct service *svc = NULL;
    struct firehose *fh = NULL;
    struct datastream_reg *dreg = NULL;
    struct kinesis *kin = NULL;
    struct admin *ad = NULL;
    struct loops loops = {0};
    rc = service_open(&scfg, &svc);
    if (rc) {
        LOG_ERROR("main", "cannot open the data directory", "dir=%s error=%s", o.data_dir,
                  hy_strerror(rc));
        return 1;
    }
    struct firehose_config fcfg = {
        .svc = svc,
        .region = o.region,
        .account_id = o.account_id,
    };
    int code = 1;
    struct datastream_config dcfg = {
        .data_dir = o.data_dir,
        .log_backend = &wal_backend,
        .stream_cap_bytes = (uint64_t)o.quota_mib << 20,
        .shard_bytes_per_s = (uint64_t)o.kinesis_shard_kib_s << 10,
        .shard_records_per_s = (uint64_t)o.kinesis_shard_records_s,
        .append_wait_ms = (int)o.append_wait_ms,
        .max_shards = (size_t)o.kinesis_max_shards,
        .hour_ms = (int64_t)o.kinesis_hour_ms,
    };
    rc = datastream_open(&dcfg, &dreg);
    if (rc) {
        LOG_ERROR("main", "cannot open the data streams", "dir=%s error=%s", o.data_dir,
                  hy_strerror(rc));
        goto out;
    }
    struct kinesis_config kcfg = {.reg = dreg, .region = o.region, .account_id = o.account_id};
    if (kinesis_new(&kcfg, &kin)) {
        LOG_ERROR("main", "out of memory", "%s", "");
        goto out;
    }
    ad = admin_new(svc);
    if (firehose_new(&fcfg, &fh) || !ad) {
        LOG_ERROR("main", "out of memory", "%s", "");
        goto out;
    }
    if (o.streams_file) {
        char err[1024];
        if (firehose_declare(fh, o.streams_file, err, sizeof err)) {
            /* The message has spaces, which log fields cannot hold: it is the line's msg. */
            LOG_ERROR("main", err, "file=%s", o.streams_file);
            goto out;
        }
    }
    /* The router's table: hydrant's own paths, then the JSON protocols by X-Amz-Target, then
     * the fallback (Firehose answers UnknownOperationException / 404 as AWS does). */
    const struct router_route routes[] = {
        {ROUTER_PATH_PREFIX, "/_hydrant/", admin_handle, ad},
        {ROUTER_TARGET_PREFIX, "Firehose_20150804.", firehose_handle, fh},
        {ROUTER_TARGET_PREFIX, "Kinesis_20131202.", kinesis_handle, kin},
        {ROUTER_ANY, NULL, firehose_handle, fh},
    };
    struct router router = {routes, sizeof routes / sizeof routes[0]};
    rc = loops_new(&loops, &hcfg, &router, (size_t)o.io_threads);
    if (rc) {
        LOG_ERROR("main", "out of memory", "%s", "");
        goto out;
    }
    struct http_server *srv = loops.v[0];
    rc = http_server_listen(srv, o.listen);
    if (rc == 0 && loops.n > 1)
        rc = http_server_add_loops(srv, loops.v + 1, loops.n - 1);
    if (rc) {
        LOG_ERROR("main", rc == -EADDRINUSE ? "the address is already in use" : "cannot listen",
                  "addr=%s error=%s", o.listen, hy_strerror(rc));
        goto out;
    }
    the_loops = &loops;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char host[256];
    const char *colon = strrchr(o.listen, ':');
    size_t hl = colon ? (size_t)(colon - o.listen) : 0;
    if (hl >= sizeof host)
        hl = sizeof host - 1;
    memcpy(host, o.listen, hl);
    host[hl] = '\0';
    service_set_ready(svc, 1);
    LOG_INFO("main", "listening", "addr=%s port=%d data_dir=%s version=%s", host,
             http_server_port(srv), o.data_dir, HYDRANT_VERSION);
    rc = loops_run(&loops);
    service_set_ready(svc, 0);
    LOG_INFO("main", "stopping: delivering what is buffered", "%s", "");
    the_loops = NULL;
    code = rc ? 1 : 0;
out:
    /* Fronts go first (the loops are stopped, nothing calls in), then the service flushes. */
    loops_free(&loops);
    firehose_free(fh);
    kinesis_free(kin);
    admin_free(ad);
    datastream_close(dreg);
    service_close(svc);
    if (code == 0)
        LOG_INFO("main", "stopped", "%s", "");
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "version") == 0) {
        printf("hydrant %s\n", HYDRANT_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
