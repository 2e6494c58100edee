/*
 * main: command-line entry. Parses flags (each also readable from HYDRANT_<FLAG>), prepares the
 * data directory, and is the one place that wires the parts together: the log backend, the
 * consumers and the sink into the service; the fronts over the service; the router's table over
 * the fronts; the HTTP loops over the router. Owns the only process-global state: the server
 * pointer the signal handler stops.
 */
#include "analytics/ancli.h"
#include "analytics/ancons.h"
#include "api/admin/admin.h"
#include "api/alexa/alexa.h"
#include "api/awsjson/awsauth.h"
#include "api/firehose/firehose.h"
#include "api/glue/glue.h"
#include "api/kinesis/kinesis.h"
#include "auth/creds.h"
#include "auth/oidc.h"
#include "api/s3/s3.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "core/catalog.h"
#include "core/consumer.h"
#include "core/datastream.h"
#include "deliver/kinsrc.h"
#include "core/service.h"
#include "deliver/delivery.h"
#include "net/http.h"
#include "net/router.h"
#include "net/statsd.h"
#include "sink/fssink.h"
#include "sink/s3sink.h"
#include "stream/seal.h"
#include "stream/wal.h"
#include "warehouse/warehouse.h"
#include "transform/lambdafn.h"

#include <cjson/cJSON.h>
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
    const char *s3_domain;
    struct s3sink_endpoint endpoints[64]; /* --s3-endpoint (bucket NULL), --bucket-endpoint */
    size_t nendpoints;
    int s3_path_style;
    const char *functions_file; /* --functions: Lambda ARNs to local functions */
    unsigned long long quota_mib;
    unsigned long long io_threads;
    unsigned long long max_streams;
    unsigned long long append_wait_ms;
    unsigned long long kinesis_max_shards;
    unsigned long long kinesis_hour_ms;
    unsigned long long kinesis_shard_kib_s;
    unsigned long long kinesis_shard_records_s;
    const char *credentials_file; /* SigV4 keys; NULL: requests are not authenticated */
    const char *kms_keys_file;    /* customer keys for encryption at rest; NULL: none */
    const char *statsd, *statsd_prefix, *statsd_interval;
    /* The OIDC gate (/_hydrant/auth); off unless signers or an issuer are given. */
    const char *oidc_signers, *oidc_key_url, *oidc_issuer, *oidc_jwks_url, *oidc_audience;
    const char *oidc_ca_file, *oidc_required, *oidc_domains, *oidc_leeway, *oidc_timeout;
    /* The Alexa skill (/_hydrant/alexa); off unless a skill id is given. */
    const char *alexa_skill_id, *alexa_ca_file, *alexa_cert_url_prefix;
    int alexa_insecure, alexa_allow_sha1;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: hydrant serve [flags]\n"
        "       hydrant detect [--detector NAME] --input F.csv --output OUT.csv\n"
        "       hydrant nab --data DIR [--detector NAME|all]\n"
        "       hydrant alexa-model [--data-dir DIR] [--invocation NAME]\n"
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
        "  --functions FILE       JSON object from Lambda ARN or function name to a local\n"
        "                         function {\"url\": ...} or {\"command\": [...]} for the\n"
        "                         Lambda processor (HYDRANT_FUNCTIONS; default none)\n"
        "  --append-wait-ms N     how long a put may wait for room in a stream's log before\n"
        "                         \"Slow down.\" (HYDRANT_APPEND_WAIT_MS; default 5000)\n"
        "  --kinesis-max-shards N open Kinesis data stream shards allowed\n"
        "                         (HYDRANT_KINESIS_MAX_SHARDS; default 256)\n"
        "  --kinesis-hour-ms N    length of a retention hour of data streams, for tests\n"
        "                         (HYDRANT_KINESIS_HOUR_MS; default 3600000)\n"
        "  --kinesis-shard-kib-per-s N  write rate of a PROVISIONED shard, 0 = unlimited\n"
        "                         (HYDRANT_KINESIS_SHARD_KIB_PER_S; default 1024)\n"
        "  --kinesis-shard-records-per-s N  records/s of a PROVISIONED shard, 0 = unlimited\n"
        "                         (HYDRANT_KINESIS_SHARD_RECORDS_PER_S; default 1000)\n"
        "  --credentials FILE     JSON access keys: AWS requests must be SigV4-signed by one of\n"
        "                         them (HYDRANT_CREDENTIALS; default none: no authentication)\n"
        "  --kms-keys FILE        JSON KeyARN -> 64 hex digits or {\"command\": [...]}: keys for\n"
        "                         CUSTOMER_MANAGED_CMK encryption (HYDRANT_KMS_KEYS; default "
        "none)\n"
        "  --statsd HOST:PORT     push the auth counters to statsd (HYDRANT_STATSD)\n"
        "  --statsd-interval-ms N how often (HYDRANT_STATSD_INTERVAL_MS; default 10000)\n"
        "  --statsd-prefix P      statsd metric prefix (HYDRANT_STATSD_PREFIX; default hydrant.)\n"
        "OIDC gate at /_hydrant/auth (README \"Access: the OIDC gate\"; env HYDRANT_OIDC_...):\n"
        "  --oidc-signers ARN,..  load-balancer ARNs whose x-amzn-oidc-data tokens are accepted\n"
        "  --oidc-key-url URL     key URL template, https only; {region} and {kid} are filled in\n"
        "                         (default "
        "https://public-keys.auth.elb.{region}.amazonaws.com/{kid})\n"
        "  --oidc-issuer URL      accept Authorization: Bearer ID tokens from this issuer...\n"
        "  --oidc-jwks-url URL    ...with keys from this JWKS (https)\n"
        "  --oidc-audience ID     required aud of ID tokens (default: not checked)\n"
        "  --oidc-ca-file FILE    CA bundle for key fetches (default: the system's)\n"
        "  --oidc-auth-required B true: 401 without a valid identity; false: pass anonymously\n"
        "                         (default true)\n"
        "  --oidc-valid-domains D,..  email domains allowed (default any)\n"
        "  --oidc-leeway-s N      exp tolerance in seconds (default 60)\n"
        "  --oidc-fetch-timeout-ms N  bound of one key fetch (default 2000)\n"
        "  --alexa-skill-id ID    serve the Alexa skill at /_hydrant/alexa for this skill id\n"
        "                         (HYDRANT_ALEXA_SKILL_ID; default: off)\n"
        "  --alexa-ca-file FILE   trust store for Alexa signing chains (default: the system's)\n"
        "  --alexa-allow-sha1     accept the legacy Signature header without Signature-256\n"
        "  --alexa-insecure       do not check Alexa request signatures (local experiments)\n"
        "  --alexa-test-cert-url-prefix URL  tests only: signing chains come from under URL\n");
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
    memset(o, 0, sizeof *o);
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
    o->functions_file = env_or("HYDRANT_FUNCTIONS", NULL);
    o->credentials_file = env_or("HYDRANT_CREDENTIALS", NULL);
    o->kms_keys_file = env_or("HYDRANT_KMS_KEYS", NULL);
    o->statsd = env_or("HYDRANT_STATSD", NULL);
    o->statsd_prefix = env_or("HYDRANT_STATSD_PREFIX", "hydrant.");
    o->statsd_interval = env_or("HYDRANT_STATSD_INTERVAL_MS", "10000");
    o->oidc_signers = env_or("HYDRANT_OIDC_SIGNERS", NULL);
    o->oidc_key_url = env_or("HYDRANT_OIDC_KEY_URL", NULL);
    o->oidc_issuer = env_or("HYDRANT_OIDC_ISSUER", NULL);
    o->oidc_jwks_url = env_or("HYDRANT_OIDC_JWKS_URL", NULL);
    o->oidc_audience = env_or("HYDRANT_OIDC_AUDIENCE", NULL);
    o->oidc_ca_file = env_or("HYDRANT_OIDC_CA_FILE", NULL);
    o->oidc_required = env_or("HYDRANT_OIDC_AUTH_REQUIRED", "true");
    o->oidc_domains = env_or("HYDRANT_OIDC_VALID_DOMAINS", NULL);
    o->oidc_leeway = env_or("HYDRANT_OIDC_LEEWAY_S", "60");
    o->oidc_timeout = env_or("HYDRANT_OIDC_FETCH_TIMEOUT_MS", "2000");
    o->alexa_skill_id = env_or("HYDRANT_ALEXA_SKILL_ID", NULL);
    o->s3_domain = env_or("HYDRANT_S3_DOMAIN", "localhost");
    const char *endpoint = env_or("HYDRANT_S3_ENDPOINT", NULL);
    if (endpoint)
        o->endpoints[o->nendpoints++] = (struct s3sink_endpoint){NULL, endpoint};
    o->s3_path_style = strcmp(env_or("HYDRANT_S3_PATH_STYLE", "0"), "1") == 0;
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
        {"functions", required_argument, NULL, 1013},
        {"append-wait-ms", required_argument, NULL, 'w'},
        {"kinesis-max-shards", required_argument, NULL, 'K'},
        {"kinesis-hour-ms", required_argument, NULL, 'H'},
        {"kinesis-shard-kib-per-s", required_argument, NULL, 1030},
        {"kinesis-shard-records-per-s", required_argument, NULL, 'R'},
        {"credentials", required_argument, NULL, 'c'},
        {"kms-keys", required_argument, NULL, 1020},
        {"statsd", required_argument, NULL, 1010},
        {"statsd-prefix", required_argument, NULL, 1011},
        {"statsd-interval-ms", required_argument, NULL, 1012},
        {"oidc-signers", required_argument, NULL, 1000},
        {"oidc-key-url", required_argument, NULL, 1001},
        {"oidc-issuer", required_argument, NULL, 1002},
        {"oidc-jwks-url", required_argument, NULL, 1003},
        {"oidc-audience", required_argument, NULL, 1004},
        {"oidc-ca-file", required_argument, NULL, 1005},
        {"oidc-auth-required", required_argument, NULL, 1006},
        {"oidc-valid-domains", required_argument, NULL, 1007},
        {"oidc-leeway-s", required_argument, NULL, 1008},
        {"oidc-fetch-timeout-ms", required_argument, NULL, 1009},
        {"s3-domain", required_argument, NULL, 'D'},
        {"s3-endpoint", required_argument, NULL, 'E'},
        {"bucket-endpoint", required_argument, NULL, 'B'},
        {"s3-path-style", no_argument, NULL, 'P'},
        {"alexa-skill-id", required_argument, NULL, 1100},
        {"alexa-ca-file", required_argument, NULL, 1101},
        {"alexa-test-cert-url-prefix", required_argument, NULL, 1102},
        {"alexa-insecure", no_argument, NULL, 1103},
        {"alexa-allow-sha1", no_argument, NULL, 1104},
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
        case 1030:
            kkib = optarg;
            break;
        case 'R':
            krec = optarg;
            break;
        case 'c':
            o->credentials_file = optarg;
            break;
        case 1020:
            o->kms_keys_file = optarg;
            break;
        case 1013:
            o->functions_file = optarg;
            break;
        case 1010:
            o->statsd = optarg;
            break;
        case 1011:
            o->statsd_prefix = optarg;
            break;
        case 1012:
            o->statsd_interval = optarg;
            break;
        case 1000:
            o->oidc_signers = optarg;
            break;
        case 1001:
            o->oidc_key_url = optarg;
            break;
        case 1002:
            o->oidc_issuer = optarg;
            break;
        case 1003:
            o->oidc_jwks_url = optarg;
            break;
        case 1004:
            o->oidc_audience = optarg;
            break;
        case 1005:
            o->oidc_ca_file = optarg;
            break;
        case 1006:
            o->oidc_required = optarg;
            break;
        case 1007:
            o->oidc_domains = optarg;
            break;
        case 1008:
            o->oidc_leeway = optarg;
            break;
        case 1009:
            o->oidc_timeout = optarg;
            break;
        case 'D':
            o->s3_domain = optarg;
            break;
        case 'E':
            /* The flag replaces the variable's default endpoint. */
            for (size_t i = 0; i < o->nendpoints; i++)
                if (!o->endpoints[i].bucket)
                    o->endpoints[i].url = optarg;
            if (!o->nendpoints || o->endpoints[0].bucket) {
                if (o->nendpoints == 64)
                    return HY_EINVAL;
                o->endpoints[o->nendpoints++] = (struct s3sink_endpoint){NULL, optarg};
            }
            break;
        case 'B':
            if (o->nendpoints == 64 ||
                s3sink_parse_bucket_endpoint(optarg, &o->endpoints[o->nendpoints])) {
                fprintf(stderr, "hydrant: --bucket-endpoint needs NAME=URL\n");
                return HY_EINVAL;
            }
            o->nendpoints++;
            break;
        case 'P':
            o->s3_path_style = 1;
            break;
        case 1100:
            o->alexa_skill_id = optarg;
            break;
        case 1101:
            o->alexa_ca_file = optarg;
            break;
        case 1102:
            o->alexa_cert_url_prefix = optarg;
            break;
        case 1103:
            o->alexa_insecure = 1;
            break;
        case 1104:
            o->alexa_allow_sha1 = 1;
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

static int oidc_metrics_hook(void *ud, struct buf *out)
{
    return oidc_metrics_render(ud, out);
}

static int awsauth_metrics_hook(void *ud, struct buf *out)
{
    return awsauth_metrics_render(ud, out);
}

/* Split a comma-separated list in place into v (at most max items); returns the count. */
static size_t split_commas(char *s, const char **v, size_t max)
{
    size_t n = 0;
    for (char *p = s; p && *p && n < max;) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        if (*p)
            v[n++] = p;
        p = c ? c + 1 : NULL;
    }
    return n;
}

/* The OIDC gate from the flags: 0 with *out NULL when none is configured; HY_EINVAL (reported)
 * for a bad setting. */
static int oidc_from_options(const struct options *o, struct oidc **out)
{
    *out = NULL;
    if (!o->oidc_signers && !o->oidc_issuer && !o->oidc_jwks_url)
        return 0;
    static char signers_buf[8192], domains_buf[8192];
    const char *signers[64], *domains[64];
    snprintf(signers_buf, sizeof signers_buf, "%s", o->oidc_signers ? o->oidc_signers : "");
    snprintf(domains_buf, sizeof domains_buf, "%s", o->oidc_domains ? o->oidc_domains : "");
    unsigned long long leeway = 0, timeout = 0;
    int required = strcmp(o->oidc_required, "true") == 0;
    if (!required && strcmp(o->oidc_required, "false") != 0) {
        fprintf(stderr, "hydrant: --oidc-auth-required must be true or false\n");
        return HY_EINVAL;
    }
    if (parse_u64(o->oidc_leeway, &leeway) || leeway > 600 ||
        parse_u64(o->oidc_timeout, &timeout) || timeout == 0 || timeout > 60000) {
        fprintf(stderr,
                "hydrant: --oidc-leeway-s needs 0..600, --oidc-fetch-timeout-ms 1..60000\n");
        return HY_EINVAL;
    }
    if (!o->oidc_issuer != !o->oidc_jwks_url) {
        fprintf(stderr, "hydrant: --oidc-issuer and --oidc-jwks-url go together\n");
        return HY_EINVAL;
    }
    struct oidc_config c = {
        .signers = signers,
        .nsigners = split_commas(signers_buf, signers, 64),
        .key_url = o->oidc_key_url,
        .region = o->region,
        .issuer = o->oidc_issuer,
        .jwks_url = o->oidc_jwks_url,
        .audience = o->oidc_audience,
        .ca_file = o->oidc_ca_file,
        .auth_required = required,
        .valid_domains = domains,
        .ndomains = split_commas(domains_buf, domains, 64),
        .leeway_s = leeway ? (int)leeway : -1,
        .fetch_timeout_ms = (int)timeout,
    };
    *out = oidc_new(&c);
    if (!*out) {
        fprintf(stderr, "hydrant: the OIDC gate cannot start: key URLs must be https:// (a key "
                        "URL template needs {kid} in its path)\n");
        return HY_EINVAL;
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
    /* Functions first: streams found in the data directory start delivering (and may invoke
     * them) as the service opens. */
    struct lambdafn_set *fns = NULL;
    if (o.functions_file) {
        char err[512];
        if (lambdafn_set_load(o.functions_file, &fns, err, sizeof err)) {
            LOG_ERROR("main", err, "file=%s", o.functions_file);
            return 1;
        }
    }
    lambdafn_set_install(fns, o.region, o.account_id);
    /* kinsrc first: it resolves its append in flight before delivery reads the log. */
    static const struct consumer_ops *const consumers[] = {
        &kinsrc_consumer, &delivery_consumer, &analytics_consumer, &warehouse_consumer};
    struct seal_ring *ring = NULL;
    if (seal_ring_new(o.data_dir, o.kms_keys_file, &ring))
        return 1;
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
        .ring = ring,
    };
    struct s3sink *remote = NULL;
    if (o.nendpoints) {
        struct s3sink_config rcfg = {
            .endpoints = o.endpoints,
            .nendpoints = o.nendpoints,
            .path_style = o.s3_path_style,
            .region = o.region,
            .local_root = s3_root,
        };
        rc = s3sink_new(&rcfg, &remote);
        if (rc) {
            LOG_ERROR("main", "an S3 endpoint must be an http:// or https:// URL", "%s", "");
            return 2;
        }
        scfg.sink = &s3sink_ops;
        scfg.sink_ctx = remote;
        for (size_t i = 0; i < o.nendpoints; i++)
            LOG_INFO("main", "delivering to a remote S3 endpoint", "bucket=%s endpoint=%s",
                     o.endpoints[i].bucket ? o.endpoints[i].bucket : "*", o.endpoints[i].url);
    }
    struct service *svc = NULL;
    struct firehose *fh = NULL;
    struct datastream_reg *dreg = NULL;
    struct kinesis *kin = NULL;
    struct admin *ad = NULL;
    struct oidc *og = NULL;
    struct alexa *ax = NULL;
    struct creds *creds = NULL;
    struct awsauth *fh_auth = NULL;
    struct awsauth *kin_auth = NULL;
    struct glue *gl = NULL;
    struct awsauth *gl_auth = NULL;
    struct statsd *sd = NULL;
    struct s3 *s3 = NULL;
    struct loops loops = {0};
    rc = service_open(&scfg, &svc);
    if (rc) {
        LOG_ERROR("main", "cannot open the data directory", "dir=%s error=%s", o.data_dir,
                  hy_strerror(rc));
        s3sink_free(remote);
        seal_ring_free(ring);
        lambdafn_set_free(fns);
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
    kinsrc_attach(dreg);
    fcfg.dreg = dreg;
    struct kinesis_config kcfg = {.reg = dreg, .region = o.region, .account_id = o.account_id};
    if (kinesis_new(&kcfg, &kin)) {
        LOG_ERROR("main", "out of memory", "%s", "");
        goto out;
    }
    if (oidc_from_options(&o, &og))
        goto out;
    if (o.credentials_file) {
        char err[512];
        if (creds_load(o.credentials_file, &creds, err, sizeof err)) {
            LOG_ERROR("main", err, "file=%s", o.credentials_file);
            goto out;
        }
        struct awsauth_config acfg = {.creds = creds,
                                      .region = o.region,
                                      .service = "firehose",
                                      .account_id = o.account_id,
                                      .inner = firehose_handle};
        fh_auth = awsauth_new(&acfg);
        acfg.service = "kinesis";
        acfg.inner = kinesis_handle;
        kin_auth = awsauth_new(&acfg);
        acfg.service = "glue";
        acfg.inner = glue_handle;
        gl_auth = awsauth_new(&acfg);
        if (!fh_auth || !kin_auth || !gl_auth) {
            LOG_ERROR("main", "out of memory", "%s", "");
            goto out;
        }
    }
    rc = glue_open(o.data_dir, o.account_id, &gl);
    if (rc) {
        LOG_ERROR("main", "cannot open the Glue catalog", "dir=%s error=%s", o.data_dir,
                  hy_strerror(rc));
        goto out;
    }
    ad = admin_new(svc);
    struct s3_config s3cfg = {
        .root = s3_root, .region = o.region, .domain = o.s3_domain, .creds = creds};
    if (firehose_new(&fcfg, &fh) || !ad || s3_new(&s3cfg, &s3)) {
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
    /* The router's table: hydrant's own paths, then the JSON protocols by X-Amz-Target (an
     * unknown target, or a JSON-protocol body without one, is Firehose's
     * UnknownOperationException as AWS answers), then S3 REST as the fallback: S3 clients never
     * send X-Amz-Target. With --credentials the Firehose, Kinesis and Glue fronts sit
     * behind SigV4 (awsauth wraps them) and the S3 front verifies SigV4 itself (s3_auth.c, with
     * its streamed bodies). */
    struct router_route routes[9];
    size_t nroutes = 0;
    if (og) {
        routes[nroutes++] =
            (struct router_route){ROUTER_PATH_PREFIX, "/_hydrant/auth", oidc_handle, og};
        admin_add_metrics(ad, oidc_metrics_hook, og);
    }
    if (o.alexa_skill_id) {
        struct alexa_config xcfg = {.svc = svc,
                                    .skill_id = o.alexa_skill_id,
                                    .ca_file = o.alexa_ca_file,
                                    .cert_url_prefix = o.alexa_cert_url_prefix,
                                    .insecure = o.alexa_insecure,
                                    .allow_sha1 = o.alexa_allow_sha1};
        ax = alexa_new(&xcfg);
        if (!ax) {
            LOG_ERROR("main", "cannot start the Alexa skill", "%s", "");
            goto out;
        }
        routes[nroutes++] =
            (struct router_route){ROUTER_PATH_PREFIX, "/_hydrant/alexa", alexa_handle, ax};
    }
    routes[nroutes++] = (struct router_route){ROUTER_PATH_PREFIX, "/_hydrant/", admin_handle, ad};
    http_handler_fn fh_handler = firehose_handle;
    void *fh_ud = fh;
    if (fh_auth) {
        admin_add_metrics(ad, awsauth_metrics_hook, fh_auth);
        awsauth_set_inner_ud(fh_auth, fh);
        fh_handler = awsauth_handle;
        fh_ud = fh_auth;
    }
    http_handler_fn kin_handler = kinesis_handle;
    void *kin_ud = kin;
    if (kin_auth) {
        admin_add_metrics(ad, awsauth_metrics_hook, kin_auth);
        awsauth_set_inner_ud(kin_auth, kin);
        kin_handler = awsauth_handle;
        kin_ud = kin_auth;
    }
    routes[nroutes++] =
        (struct router_route){ROUTER_TARGET_PREFIX, "Firehose_20150804.", fh_handler, fh_ud};
    routes[nroutes++] =
        (struct router_route){ROUTER_TARGET_PREFIX, "Kinesis_20131202.", kin_handler, kin_ud};
    if (gl_auth)
        awsauth_set_inner_ud(gl_auth, gl);
    routes[nroutes++] = (struct router_route){ROUTER_TARGET_PREFIX, "AWSGlue.",
                                              gl_auth ? awsauth_handle : glue_handle,
                                              gl_auth ? (void *)gl_auth : (void *)gl};
    routes[nroutes++] = (struct router_route){ROUTER_TARGET_PREFIX, "", fh_handler, fh_ud};
    routes[nroutes++] =
        (struct router_route){ROUTER_CTYPE_PREFIX, "application/x-amz-json", fh_handler, fh_ud};
    routes[nroutes++] = (struct router_route){ROUTER_ANY, NULL, s3_handle, s3};
    struct router router = {routes, nroutes};
    if (o.statsd) {
        unsigned long long every = 0;
        if (parse_u64(o.statsd_interval, &every) == 0 && every >= 10 && every <= 3600000)
            sd = statsd_new(o.statsd, o.statsd_prefix, (int)every);
        if (!sd) {
            LOG_ERROR("main",
                      "--statsd needs HOST:PORT that resolves and --statsd-interval-ms 10..3600000",
                      "statsd=%s", o.statsd);
            goto out;
        }
        if (og)
            statsd_add_source(sd, oidc_metrics_hook, og);
        if (fh_auth)
            statsd_add_source(sd, awsauth_metrics_hook, fh_auth);
        if (kin_auth)
            statsd_add_source(sd, awsauth_metrics_hook, kin_auth);
        if (statsd_start(sd)) {
            LOG_ERROR("main", "cannot start the statsd thread", "%s", "");
            goto out;
        }
    }
    rc = loops_new(&loops, &hcfg, &router, (size_t)o.io_threads);
    if (rc) {
        LOG_ERROR("main", "out of memory", "%s", "");
        goto out;
    }
    /* S3 PutObject/UploadPart bodies over the body limit stream to disk (S3's 5 GiB bound). */
    for (size_t i = 0; i < loops.n; i++)
        http_server_set_streamer(loops.v[i], s3_stream_open, s3, (uint64_t)5 << 30);
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
    if (!creds && strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0 &&
        strcmp(host, "[::1]") != 0 && strcmp(host, "::1") != 0)
        LOG_WARN("main",
                 "listening beyond loopback without --credentials: anyone who can connect may "
                 "call the API",
                 "addr=%s", host);
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
    statsd_free(sd);
    firehose_free(fh);
    kinesis_free(kin);
    glue_free(gl);
    awsauth_free(gl_auth);
    admin_free(ad);
    kinsrc_detach();
    datastream_close(dreg);
    oidc_free(og);
    alexa_free(ax);
    awsauth_free(fh_auth);
    awsauth_free(kin_auth);
    creds_free(creds);
    s3_free(s3);
    service_close(svc);
    s3sink_free(remote);
    seal_ring_free(ring);
    lambdafn_set_install(NULL, NULL, NULL);
    lambdafn_set_free(fns); /* after the service: delivery threads invoke them until it closes */
    if (code == 0)
        LOG_INFO("main", "stopped", "%s", "");
    return code;
}

/* hydrant alexa-model: the skill's interaction model with the data directory's stream names. */
static int alexa_model(int argc, char **argv)
{
    const char *data_dir = env_or("HYDRANT_DATA_DIR", "./hydrant-data"), *inv = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--data-dir") == 0)
            data_dir = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--invocation") == 0)
            inv = argv[++i];
        else {
            fprintf(stderr, "usage: hydrant alexa-model [--data-dir DIR] [--invocation NAME]\n");
            return 2;
        }
    }
    struct catalog *cat = NULL;
    struct catalog_stream **v = NULL;
    size_t n = 0;
    if (catalog_open(data_dir, &cat) || catalog_snapshot(cat, &v, &n)) {
        fprintf(stderr, "hydrant: cannot read the streams in %s\n", data_dir);
        catalog_free(cat);
        return 1;
    }
    char **names = hy_malloc((n ? n : 1) * sizeof *names);
    size_t k = 0;
    for (size_t i = 0; names && i < n; i++)
        if (v[i]->status == CATALOG_STATUS_ACTIVE)
            names[k++] = v[i]->name;
    char *model = names ? alexa_model_render(inv, names, k) : NULL;
    int rc = model && printf("%s\n", model) > 0 ? 0 : 1;
    cJSON_free(model);
    hy_free(names);
    catalog_snapshot_free(v, n);
    catalog_free(cat);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "detect") == 0)
        return ancli_detect(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "nab") == 0)
        return ancli_nab(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "alexa-model") == 0)
        return alexa_model(argc - 1, argv + 1);
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
