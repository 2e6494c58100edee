#include "deliver/keyname.h"

#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hytime.h"
#include "pipeline/jqextract.h"

/* Firehose: with no timestamp expression, !{timestamp:yyyy/MM/dd/HH/} is appended. */
static const char default_ts_pattern[] = "yyyy/MM/dd/HH/";

static const char *const month_short[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const month_long[12] = {"January",   "February", "March",    "April",
                                           "May",       "June",     "July",     "August",
                                           "September", "October",  "November", "December"};
static const char *const wday_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};

#define R_BAD_START "'!{' may only start an expression of the form !{namespace:value}"
#define R_UNTERMINATED "Prefix expression is missing its closing '}'"
#define R_NAMESPACE                                                                                \
    "Unknown prefix expression namespace; supported: timestamp, firehose, "                        \
    "partitionKeyFromQuery, partitionKeyFromLambda"
#define R_DYNAMIC                                                                                  \
    "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic "        \
    "Partitioning is enabled"
#define R_FIREHOSE "Unknown firehose expression; supported: random-string, error-output-type"
#define R_ERRTYPE "!{firehose:error-output-type} may only be used in ErrorOutputPrefix"
#define R_TS_EMPTY "!{timestamp:} needs a date-time pattern"
#define R_TS_QUOTE "Unterminated quoted literal in timestamp pattern"
#define R_TS_LETTER                                                                                \
    "Unsupported timestamp pattern; supported letters: y, u, M, d, H, m, s, S, E and 'literals'"
#define R_TOO_LONG "Prefix must be at most 1024 characters"
#define R_PART_IN_ERROR "Dynamic Partitioning Namespaces cannot be part of ErrorOutputPrefix"
#define R_PART_MISSING "Partition key referenced by the prefix was not extracted from the record"
#define R_DP_NEEDS_ERR "ErrorOutputPrefix is required when Dynamic Partitioning is enabled"
#define R_ERR_REQUIRED "ErrorOutputPrefix is required when Prefix contains expressions"
#define R_ERR_TYPE_REQUIRED                                                                        \
    "ErrorOutputPrefix must contain !{firehose:error-output-type} when Prefix contains "           \
    "expressions"

/* ---------------------------------------------------------------------------------------------
 * Hashing. Not cryptographic: the ids only need to be stable and spread well.
 */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t keyname_stream_id(const char *stream_name, int64_t create_ms)
{
    uint64_t h = fnv1a(stream_name ? stream_name : "", 0xcbf29ce484222325ULL);
    return mix64(h ^ mix64((uint64_t)create_ms + 0x9e3779b97f4a7c15ULL));
}

/* Two independent 64-bit hashes of (identity, first seq). The last seq must not feed them: a
 * batch's key is fixed when it opens, before anyone knows where it will be cut. */
static void batch_hash(const struct keyname_batch *r, uint64_t *h1, uint64_t *h2)
{
    *h1 = mix64(mix64(r->stream_id + 0x243f6a8885a308d3ULL) ^ r->first_seq);
    *h2 = mix64(mix64(r->stream_id + 0x13198a2e03707344ULL) ^ mix64(r->first_seq));
}

static void hex_bytes(char *out, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
}

void keyname_batch_id(const struct keyname_batch *r, char out[KEYNAME_ID_LEN + 1])
{
    uint64_t h1, h2;
    unsigned char b[16];
    batch_hash(r, &h1, &h2);
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(h1 >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(h2 >> (56 - 8 * i));
    }
    /* RFC 9562 version 8 (custom) and variant 10xx, so the id is a well-formed UUID. */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x80);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    hex_bytes(out, b, 4);
    out[8] = '-';
    hex_bytes(out + 9, b + 4, 2);
    out[13] = '-';
    hex_bytes(out + 14, b + 6, 2);
    out[18] = '-';
    hex_bytes(out + 19, b + 8, 2);
    out[23] = '-';
    hex_bytes(out + 24, b + 10, 6);
    out[KEYNAME_ID_LEN] = '\0';
}

/* The n-th !{firehose:random-string} of a key: 8 hex, '-', 2 hex ("046b6c7f-0b"). Firehose
 * draws a new value per occurrence, so the occurrence index feeds the hash. */
static void random_string(const struct keyname_batch *r, unsigned n,
                          char out[KEYNAME_RANDOM_LEN + 1])
{
    uint64_t h1, h2;
    unsigned char b[5];
    batch_hash(r, &h1, &h2);
    uint64_t h = mix64(h1 ^ mix64(h2 + n + 1));
    for (int i = 0; i < 5; i++)
        b[i] = (unsigned char)(h >> (56 - 8 * i));
    hex_bytes(out, b, 4);
    out[8] = '-';
    hex_bytes(out + 9, b + 4, 1);
    out[KEYNAME_RANDOM_LEN] = '\0';
}

/* ---------------------------------------------------------------------------------------------
 * Timestamp patterns: the subset of Java DateTimeFormatter that prefixes use. Letters are
 * reserved for fields (an unknown letter is an error, as in Java), text in single quotes is
 * literal ('' is one quote), every other character is copied.
 */

struct when {
    struct tm tm;
    int ms;
};

static void when_init(struct when *w, int64_t epoch_ms)
{
    hytime_utc(epoch_ms, &w->tm);
    int64_t ms = epoch_ms % 1000;
    w->ms = (int)(ms < 0 ? ms + 1000 : ms);
}

/* Append one field of count letters; out NULL only validates. */
static int ts_field(char letter, size_t count, const struct when *w, struct buf *out,
                    const char **reason)
{
    int value = -1, width = (int)count;
    const char *text = NULL;

    switch (letter) {
    case 'y':
    case 'u':
        if (count > 9)
            goto bad;
        value = w ? w->tm.tm_year + 1900 : 0;
        if (count == 2) /* Java: "yy" is the reduced two-digit year */
            value = ((value % 100) + 100) % 100;
        break;
    case 'M':
        if (count > 4)
            goto bad;
        if (count >= 3 && w)
            text = (count == 3 ? month_short : month_long)[w->tm.tm_mon];
        value = w ? w->tm.tm_mon + 1 : 0;
        break;
    case 'd':
    case 'H':
    case 'm':
    case 's':
        if (count > 2)
            goto bad;
        if (w)
            value = letter == 'd'   ? w->tm.tm_mday
                    : letter == 'H' ? w->tm.tm_hour
                    : letter == 'm' ? w->tm.tm_min
                                    : w->tm.tm_sec;
        break;
    case 'S':
        if (count > 9)
            goto bad;
        break;
    case 'E':
        if (count > 4)
            goto bad;
        if (w)
            text = (count == 4 ? wday_long : wday_short)[w->tm.tm_wday];
        break;
    default:
        goto bad;
    }
    if (!out)
        return 0;
    if (text)
        return buf_append_str(out, text);
    if (letter == 'S') {
        /* Fraction of second: the first count digits of the nanoseconds. */
        char frac[10];
        long nanos = (long)w->ms * 1000000L;
        for (int i = 8; i >= 0; i--) {
            frac[i] = (char)('0' + nanos % 10);
            nanos /= 10;
        }
        return buf_append(out, frac, count);
    }
    return buf_printf(out, "%0*d", width, value);
bad:
    *reason = R_TS_LETTER;
    return HY_EINVAL;
}

/* Evaluate pattern [p, p+len) into out (NULL: validate only). */
static int ts_format(const char *p, size_t len, const struct when *w, struct buf *out,
                     const char **reason)
{
    size_t i = 0;
    int rc;

    if (len == 0) {
        *reason = R_TS_EMPTY;
        return HY_EINVAL;
    }
    while (i < len) {
        char c = p[i];
        if (c == '\'') {
            if (i + 1 < len && p[i + 1] == '\'') { /* '' is a literal quote */
                if (out && (rc = buf_append(out, "'", 1)) < 0)
                    return rc;
                i += 2;
                continue;
            }
            size_t j = i + 1;
            for (;;) {
                if (j >= len) {
                    *reason = R_TS_QUOTE;
                    return HY_EINVAL;
                }
                if (p[j] == '\'') {
                    if (j + 1 < len && p[j + 1] == '\'') {
                        if (out && (rc = buf_append(out, "'", 1)) < 0)
                            return rc;
                        j += 2;
                        continue;
                    }
                    break;
                }
                if (out && (rc = buf_append(out, p + j, 1)) < 0)
                    return rc;
                j++;
            }
            i = j + 1;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            size_t n = 1;
            while (i + n < len && p[i + n] == c)
                n++;
            if ((rc = ts_field(c, n, w, out, reason)) < 0)
                return rc;
            i += n;
        } else if (c == '[' || c == ']' || c == '{' || c == '}' || c == '#') {
            /* Reserved by DateTimeFormatter (optional sections and future use). */
            *reason = R_TS_LETTER;
            return HY_EINVAL;
        } else {
            if (out && (rc = buf_append(out, &c, 1)) < 0)
                return rc;
            i++;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Prefix walking, shared by validation (out == NULL) and evaluation.
 */

struct walk {
    int is_error_prefix;
    const char *error_output_type; /* value for !{firehose:error-output-type} */
    const struct keyname_batch *batch;
    const struct when *when;
    struct buf *out;  /* NULL: validate only */
    unsigned randoms; /* random-string occurrences so far */
    int has_ts;       /* saw a timestamp expression */
    int has_expr;     /* saw any expression */
    int has_errtype;  /* saw !{firehose:error-output-type} */
    int dynamic;      /* dynamic partitioning is enabled: partitionKeyFromQuery is allowed */
    int has_partkey;  /* saw a partitionKeyFrom* expression */
    const char *reason;
};

static int ns_is(const char *p, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(p, name, len) == 0;
}

/* Find the '}' closing an expression value starting at p; quotes in timestamp patterns may hide
 * a '}'. Returns its offset or -1. */
static long value_end(const char *p, int quoted)
{
    int in_quote = 0;
    for (long i = 0; p[i]; i++) {
        if (quoted && p[i] == '\'')
            in_quote = !in_quote;
        else if (p[i] == '}' && !in_quote)
            return i;
    }
    return -1;
}

/* The value of a Lambda partition key (stored as "\1name", see keyname.h) or NULL. */
static const char *lambda_key(const char *keys, size_t n, const char *name, size_t name_len)
{
    const char *p = keys;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(p);
        const char *v = p + kl + 1;
        if (kl == name_len + 1 && p[0] == KEYNAME_LAMBDA_MARK && memcmp(p + 1, name, name_len) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

static int walk_expr(struct walk *wk, const char *p, size_t *consumed)
{
    /* p points just past "!{". */
    const char *colon = NULL;
    for (const char *q = p; *q && *q != '}'; q++) {
        if (*q == ':') {
            colon = q;
            break;
        }
    }
    if (!colon || colon == p) {
        wk->reason = R_BAD_START;
        return HY_EINVAL;
    }
    size_t ns_len = (size_t)(colon - p);
    const char *val = colon + 1;
    int is_ts = ns_is(p, ns_len, "timestamp");
    long end = value_end(val, is_ts);
    if (end < 0) {
        wk->reason = R_UNTERMINATED;
        return HY_EINVAL;
    }
    size_t val_len = (size_t)end;
    int rc = 0;

    wk->has_expr = 1;
    if (is_ts) {
        wk->has_ts = 1;
        rc = ts_format(val, val_len, wk->when, wk->out, &wk->reason);
    } else if (ns_is(p, ns_len, "firehose")) {
        if (ns_is(val, val_len, "random-string")) {
            if (wk->out) {
                char rnd[KEYNAME_RANDOM_LEN + 1];
                random_string(wk->batch, wk->randoms, rnd);
                rc = buf_append(wk->out, rnd, KEYNAME_RANDOM_LEN);
            }
            wk->randoms++;
        } else if (ns_is(val, val_len, "error-output-type")) {
            wk->has_errtype = 1;
            if (!wk->is_error_prefix) {
                wk->reason = R_ERRTYPE;
                rc = HY_EINVAL;
            } else if (wk->out) {
                rc = buf_append_str(wk->out, wk->error_output_type);
            }
        } else {
            wk->reason = R_FIREHOSE;
            rc = HY_EINVAL;
        }
    } else if (ns_is(p, ns_len, "partitionKeyFromQuery") ||
               ns_is(p, ns_len, "partitionKeyFromLambda")) {
        wk->has_partkey = 1;
        if (!wk->dynamic) {
            wk->reason = R_DYNAMIC;
            rc = HY_EINVAL;
        } else if (wk->is_error_prefix) {
            wk->reason = R_PART_IN_ERROR;
            rc = HY_EINVAL;
        } else if (wk->out) {
            const char *v =
                !wk->batch->part_keys ? NULL
                : ns_is(p, ns_len, "partitionKeyFromLambda")
                    ? lambda_key(wk->batch->part_keys, wk->batch->n_part_keys, val, val_len)
                    : jqextract_key(wk->batch->part_keys, wk->batch->n_part_keys, val, val_len);
            if (!v) {
                wk->reason = R_PART_MISSING;
                rc = HY_ENOTFOUND;
            } else {
                rc = buf_append_str(wk->out, v);
            }
        }
    } else {
        wk->reason = R_NAMESPACE;
        rc = HY_EINVAL;
    }
    *consumed = (size_t)(val + val_len + 1 - (p - 2));
    return rc;
}

/* Walk prefix; with append_ts, add the default timestamp when there was none. */
static int walk_prefix(struct walk *wk, const char *prefix, int append_ts)
{
    const char *p = prefix ? prefix : "";
    int rc;

    if (strlen(p) > KEYNAME_PREFIX_MAX) {
        wk->reason = R_TOO_LONG;
        return HY_EINVAL;
    }
    while (*p) {
        if (p[0] == '!' && p[1] == '{') {
            size_t n;
            if ((rc = walk_expr(wk, p + 2, &n)) < 0)
                return rc;
            p += n;
            continue;
        }
        /* Copy the plain run up to the next "!{" in one append. */
        const char *q = p + 1;
        while (*q && !(q[0] == '!' && q[1] == '{'))
            q++;
        if (wk->out && (rc = buf_append(wk->out, p, (size_t)(q - p))) < 0)
            return rc;
        p = q;
    }
    if (append_ts && !wk->has_ts)
        return ts_format(default_ts_pattern, sizeof(default_ts_pattern) - 1, wk->when, wk->out,
                         &wk->reason);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Public calls.
 */

static void walk_init(struct walk *wk, const struct keyname_batch *r, const struct when *w,
                      struct buf *out)
{
    memset(wk, 0, sizeof(*wk));
    wk->batch = r;
    wk->when = w;
    wk->out = out;
}

int keyname_prefix_eval(const char *prefix, const struct keyname_batch *r,
                        const char *error_output_type, struct buf *out)
{
    struct when w;
    struct walk wk;
    when_init(&w, r->first_arrival_ms + (int64_t)r->utc_offset_s * 1000);
    walk_init(&wk, r, &w, out);
    wk.is_error_prefix = error_output_type != NULL;
    wk.error_output_type = error_output_type;
    wk.dynamic = r->part_keys != NULL;
    return walk_prefix(&wk, prefix, 1);
}

static int append_suffix(const struct keyname_batch *r, struct buf *out)
{
    struct when w;
    char id[KEYNAME_ID_LEN + 1];
    when_init(&w, r->first_arrival_ms + (int64_t)r->utc_offset_s * 1000);
    keyname_batch_id(r, id);
    return buf_printf(out, "%s-%llu-%04d-%02d-%02d-%02d-%02d-%02d-%s",
                      r->stream_name ? r->stream_name : "", (unsigned long long)r->version,
                      w.tm.tm_year + 1900, w.tm.tm_mon + 1, w.tm.tm_mday, w.tm.tm_hour, w.tm.tm_min,
                      w.tm.tm_sec, id);
}

int keyname_object_key(const char *prefix, const struct keyname_batch *r, struct buf *out)
{
    int rc = keyname_prefix_eval(prefix, r, NULL, out);
    if (rc < 0)
        return rc;
    return append_suffix(r, out);
}

int keyname_error_key(const char *prefix, const char *error_prefix, const char *error_output_type,
                      const struct keyname_batch *r, struct buf *out)
{
    int rc;
    if (!error_output_type)
        return HY_EINVAL;
    if (error_prefix && *error_prefix) {
        rc = keyname_prefix_eval(error_prefix, r, error_output_type, out);
    } else {
        /* Firehose: ErrorOutputPrefix null -> <prefix><error-output-type>/YYYY/MM/dd/HH/. */
        struct when w;
        struct walk wk;
        when_init(&w, r->first_arrival_ms + (int64_t)r->utc_offset_s * 1000);
        walk_init(&wk, r, &w, out);
        rc = walk_prefix(&wk, prefix, 0);
        if (rc == 0)
            rc = buf_printf(out, "%s/", error_output_type);
        if (rc == 0 && !wk.has_ts)
            rc = ts_format(default_ts_pattern, sizeof(default_ts_pattern) - 1, &w, out, &wk.reason);
    }
    if (rc < 0)
        return rc;
    return append_suffix(r, out);
}

void keyname_damage_batch(const char *stream_name, uint64_t version, uint64_t stream_id,
                          uint64_t location, uint64_t offset, int64_t when_ms,
                          struct keyname_batch *out)
{
    /* A derived identity: data batches hash (stream_id, first seq), this hashes a different
     * identity with the span's place, so the two name spaces do not meet. */
    out->stream_name = stream_name;
    out->version = version;
    out->stream_id = mix64(mix64(stream_id ^ 0xa4093822299f31d0ULL) ^ mix64(location + 1));
    out->first_seq = offset;
    out->first_arrival_ms = when_ms;
    out->part_keys = NULL;
    out->n_part_keys = 0;
    out->utc_offset_s = 0;
}

uint64_t keyname_derive_id(uint64_t stream_id, const void *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= ((const unsigned char *)p)[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(mix64(stream_id ^ 0x452821e638d01377ULL) ^ mix64(h + len));
}

int keyname_prefix_validate(const char *prefix, int is_error_prefix, const char **reason)
{
    struct walk wk;
    const char *unused = NULL;
    walk_init(&wk, NULL, NULL, NULL);
    wk.is_error_prefix = is_error_prefix;
    int rc = walk_prefix(&wk, prefix, 0);
    if (rc < 0)
        *(reason ? reason : &unused) = wk.reason;
    return rc;
}

int keyname_prefixes_validate(const char *prefix, const char *error_prefix, const char **reason)
{
    return keyname_prefixes_validate_dp(prefix, error_prefix, 0, reason);
}

int keyname_prefixes_validate_dp(const char *prefix, const char *error_prefix, int dynamic,
                                 const char **reason)
{
    struct walk wk;
    const char *unused = NULL;
    const char **why = reason ? reason : &unused;
    int rc;

    walk_init(&wk, NULL, NULL, NULL);
    wk.dynamic = dynamic;
    if ((rc = walk_prefix(&wk, prefix, 0)) < 0) {
        *why = wk.reason;
        return rc;
    }
    int prefix_has_expr = wk.has_expr;
    walk_init(&wk, NULL, NULL, NULL);
    wk.is_error_prefix = 1;
    wk.dynamic = dynamic;
    if ((rc = walk_prefix(&wk, error_prefix, 0)) < 0) {
        *why = wk.reason;
        return rc;
    }
    /* Firehose: dynamic partitioning requires an ErrorOutputPrefix. */
    if (dynamic && (!error_prefix || !*error_prefix)) {
        *why = R_DP_NEEDS_ERR;
        return HY_EINVAL;
    }
    if (prefix_has_expr) {
        if (!error_prefix || !*error_prefix) {
            *why = R_ERR_REQUIRED;
            return HY_EINVAL;
        }
        if (!wk.has_errtype) {
            *why = R_ERR_TYPE_REQUIRED;
            return HY_EINVAL;
        }
    }
    return 0;
}
