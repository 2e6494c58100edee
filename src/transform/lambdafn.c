/*
 * lambdafn: the --functions registry and one invocation of a local function (lambdafn.h).
 * URL functions are called with libcurl (already hydrant's HTTP client); command functions are
 * warm workers spawned with posix_spawnp and spoken to over two pipes with poll(2), one JSON line
 * each way. No Debian library runs Lambda-style workers, and the protocol is a few lines.
 */
#include "transform/lambdafn.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/hytime.h"
#include "base/log.h"
#include "base/mem.h"

#define FILE_MAX (1u << 20)
#define ARGV_MAX 64

struct lambdafn {
    char *key; /* ARN or name as written in the file */
    char *url; /* URL mode, else NULL */
    char **argv;
    int timeout_ms;
    pthread_mutex_t mu; /* one invocation at a time */
    /* Command mode, [mu]: the warm worker, pid 0 when none. */
    pid_t pid;
    int in_fd;       /* its stdin */
    int out_fd;      /* its stdout */
    struct buf line; /* bytes read past the last response line */
};

struct lambdafn_set {
    struct lambdafn **fns;
    size_t n;
};

static struct lambdafn_set *installed;
static char region_name[64] = "us-east-1";
static char account_name[32] = "000000000000";

static void worker_stop(struct lambdafn *fn)
{
    if (fn->pid > 0) {
        kill(fn->pid, SIGKILL);
        while (waitpid(fn->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (fn->in_fd >= 0)
        close(fn->in_fd);
    if (fn->out_fd >= 0)
        close(fn->out_fd);
    fn->pid = 0;
    fn->in_fd = fn->out_fd = -1;
    buf_reset(&fn->line);
}

static void fn_free(struct lambdafn *fn)
{
    if (!fn)
        return;
    worker_stop(fn);
    hy_free(fn->key);
    hy_free(fn->url);
    for (size_t i = 0; fn->argv && fn->argv[i]; i++)
        hy_free(fn->argv[i]);
    hy_free(fn->argv);
    buf_fini(&fn->line);
    pthread_mutex_destroy(&fn->mu);
    hy_free(fn);
}

void lambdafn_set_free(struct lambdafn_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        fn_free(s->fns[i]);
    hy_free(s->fns);
    hy_free(s);
}

static struct lambdafn *fn_parse(const cJSON *item, char *err, size_t err_len)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(item, "url");
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(item, "command");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(item, "timeout_ms");
    struct lambdafn *fn = hy_calloc(1, sizeof *fn);
    if (!fn) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&fn->mu, NULL);
    fn->in_fd = fn->out_fd = -1;
    buf_init(&fn->line, LAMBDAFN_RESPONSE_MAX);
    fn->timeout_ms = LAMBDAFN_DEFAULT_TIMEOUT_MS;
    if (!(fn->key = hy_strdup(item->string)))
        goto oom;
    if (to && (!cJSON_IsNumber(to) || to->valuedouble < 1 || to->valuedouble > 900000)) {
        snprintf(err, err_len, "function %s: timeout_ms must be 1 to 900000", item->string);
        goto fail;
    }
    if (to)
        fn->timeout_ms = to->valueint;
    if (cJSON_IsString(url) == cJSON_IsArray(cmd)) {
        snprintf(err, err_len,
                 "function %s: give exactly one of url (a string) or command (an array)",
                 item->string);
        goto fail;
    }
    if (cJSON_IsString(url)) {
        if (strncmp(url->valuestring, "http://", 7) != 0 &&
            strncmp(url->valuestring, "https://", 8) != 0) {
            snprintf(err, err_len, "function %s: url must be http:// or https://", item->string);
            goto fail;
        }
        if (!(fn->url = hy_strdup(url->valuestring)))
            goto oom;
        return fn;
    }
    int argc = cJSON_GetArraySize(cmd);
    if (argc < 1 || argc > ARGV_MAX) {
        snprintf(err, err_len, "function %s: command needs 1 to %d strings", item->string,
                 ARGV_MAX);
        goto fail;
    }
    if (!(fn->argv = hy_calloc((size_t)argc + 1, sizeof(char *))))
        goto oom;
    for (int i = 0; i < argc; i++) {
        const cJSON *a = cJSON_GetArrayItem(cmd, i);
        if (!cJSON_IsString(a)) {
            snprintf(err, err_len, "function %s: command must hold strings", item->string);
            goto fail;
        }
        if (!(fn->argv[i] = hy_strdup(a->valuestring)))
            goto oom;
    }
    return fn;
oom:
    snprintf(err, err_len, "out of memory");
fail:
    fn_free(fn);
    return NULL;
}

int lambdafn_set_load(const char *path, struct lambdafn_set **out, char *err, size_t err_len)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    const cJSON *item;
    struct lambdafn_set *s = NULL;
    int rc = fsutil_read_all(path, &text, &len, FILE_MAX);
    if (rc < 0) {
        snprintf(err, err_len, "cannot read the functions file: %s", hy_strerror(rc));
        goto fail;
    }
    rc = HY_EINVAL;
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        snprintf(err, err_len, "the functions file must be a JSON object from ARN to function");
        goto fail;
    }
    rc = HY_ENOMEM;
    if (!(s = hy_calloc(1, sizeof *s)))
        goto fail;
    size_t n = (size_t)cJSON_GetArraySize(root);
    if (n && !(s->fns = hy_calloc(n, sizeof *s->fns)))
        goto fail;
    cJSON_ArrayForEach(item, root)
    {
        if (!cJSON_IsObject(item)) {
            snprintf(err, err_len, "function %s: must be an object", item->string);
            rc = HY_EINVAL;
            goto fail;
        }
        if (!(s->fns[s->n] = fn_parse(item, err, err_len))) {
            rc = HY_EINVAL;
            goto fail;
        }
        s->n++;
    }
    cJSON_Delete(root);
    hy_free(text);
    *out = s;
    return 0;
fail:
    if (rc == HY_ENOMEM)
        snprintf(err, err_len, "out of memory");
    lambdafn_set_free(s);
    cJSON_Delete(root);
    hy_free(text);
    return rc;
}

void lambdafn_set_install(struct lambdafn_set *s, const char *region, const char *account_id)
{
    installed = s;
    if (region)
        snprintf(region_name, sizeof region_name, "%s", region);
    if (account_id)
        snprintf(account_name, sizeof account_name, "%s", account_id);
}

const char *lambdafn_region(void)
{
    return region_name;
}

const char *lambdafn_account(void)
{
    return account_name;
}

static struct lambdafn *find_exact(const char *k, size_t len)
{
    for (size_t i = 0; installed && i < installed->n; i++)
        if (strlen(installed->fns[i]->key) == len && memcmp(installed->fns[i]->key, k, len) == 0)
            return installed->fns[i];
    return NULL;
}

struct lambdafn *lambdafn_find(const char *arn)
{
    struct lambdafn *fn;
    if (!arn || !installed)
        return NULL;
    if ((fn = find_exact(arn, strlen(arn))))
        return fn;
    /* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] */
    const char *name = strstr(arn, ":function:");
    if (!name)
        return NULL;
    name += 10;
    const char *q = strchr(name, ':');
    if (q && (fn = find_exact(arn, (size_t)(q - arn))))
        return fn;
    return find_exact(name, q ? (size_t)(q - name) : strlen(name));
}

/* ------------------------------------------------------------------ URL mode */

struct body {
    struct buf *b;
    int too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct body *bd = arg;
    if (buf_append(bd->b, p, size * n) < 0) {
        bd->too_big = 1;
        return 0;
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    static const char name[] = "x-amz-function-error:";
    if (size * n >= sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0)
        *(int *)arg = 1;
    return size * n;
}

static int invoke_url(struct lambdafn *fn, const char *event, size_t len, struct buf *resp,
                      const char **code, const char **message)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct body bd = {.b = resp};
    int fn_error = 0;
    long status = 0;
    int rc = -EIO;
    *code = "Lambda.InvokeFailed";
    *message = "The Lambda function could not be invoked";
    if (!c)
        return -EIO;
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, fn->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, event);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)fn->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bd);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &fn_error);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        *code = "Lambda.FunctionTimedOut";
        *message = "The Lambda function did not answer within its timeout";
    } else if (bd.too_big) {
        *code = "Lambda.ResponseTooLarge";
        *message = "The Lambda function's response is larger than 6 MB";
    } else if (cc != CURLE_OK) {
        *message = "The Lambda function's URL could not be reached";
    } else if (status == 413) {
        *code = "Lambda.RequestTooLarge";
        *message = "The Lambda invocation payload is too large";
    } else if (status != 200) {
        *message = "The Lambda function's URL answered an HTTP error status";
    } else if (fn_error) {
        *code = "Lambda.FunctionError";
        *message = "The Lambda function was successfully invoked but it returned an error result.";
    } else {
        rc = 0;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

/* ------------------------------------------------------------------ command mode */

static int worker_start(struct lambdafn *fn)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        rc = -errno;
        goto fail;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    /* Sockets, the data directory's lock and log files stay with hydrant. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    extern char **environ;
    rc = posix_spawnp(&pid, fn->argv[0], &fa, NULL, fn->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        rc = -rc;
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    fn->pid = pid;
    fn->in_fd = in[1];
    fn->out_fd = out[0];
    fcntl(fn->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(fn->out_fd, F_SETFL, O_NONBLOCK);
    buf_reset(&fn->line);
    LOG_INFO("lambdafn", "worker started", "function=%s pid=%d", fn->key, (int)pid);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return rc;
}

/* Write the event line and read one response line, within deadline (monotonic ms). */
static int worker_exchange(struct lambdafn *fn, const char *event, size_t len, struct buf *resp,
                           int64_t deadline, const char **code, const char **message)
{
    size_t sent = 0, total = len + 1;
    for (;;) {
        /* A line already read (a worker may answer before all of a big event is written). */
        char *nl = fn->line.len ? memchr(fn->line.data, '\n', fn->line.len) : NULL;
        if (nl && sent == total) {
            size_t n = (size_t)(nl - fn->line.data);
            int rc = buf_append(resp, fn->line.data, n);
            if (rc < 0)
                return rc;
            memmove(fn->line.data, nl + 1, fn->line.len - n - 1);
            fn->line.len -= n + 1;
            return 0;
        }
        if (nl) {
            *code = "Lambda.JsonProcessingException";
            *message = "The Lambda function answered before reading its whole event";
            return -EIO;
        }
        int64_t left = deadline - hytime_mono_ms();
        if (left <= 0) {
            *code = "Lambda.FunctionTimedOut";
            *message = "The Lambda function did not answer within its timeout";
            return -EIO;
        }
        struct pollfd p[2] = {{.fd = fn->out_fd, .events = POLLIN},
                              {.fd = fn->in_fd, .events = POLLOUT}};
        int np = sent < total ? 2 : 1;
        if (poll(p, (nfds_t)np, (int)left) < 0 && errno != EINTR)
            return -errno;
        if (np == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const char *src = sent < len ? event + sent : "\n";
            size_t want = sent < len ? len - sent : 1;
            ssize_t w = write(fn->in_fd, src, want);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                *code = "Lambda.FunctionError";
                *message = "The Lambda function's worker exited";
                return -EIO;
            }
            if (w > 0)
                sent += (size_t)w;
        }
        if (p[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            if (buf_reserve(&fn->line, 65536) < 0) {
                *code = "Lambda.ResponseTooLarge";
                *message = "The Lambda function's response is larger than 6 MB";
                return -EIO;
            }
            ssize_t r = read(fn->out_fd, fn->line.data + fn->line.len, 65536);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                *code = "Lambda.FunctionError";
                *message = "The Lambda function's worker exited";
                return -EIO;
            }
            if (r > 0)
                fn->line.len += (size_t)r;
        }
    }
}

static int invoke_command(struct lambdafn *fn, const char *event, size_t len, struct buf *resp,
                          const char **code, const char **message)
{
    int rc;
    if (fn->pid <= 0 && (rc = worker_start(fn)) < 0) {
        LOG_WARN("lambdafn", "cannot start the worker", "function=%s err=%s", fn->key,
                 hy_errname(rc));
        *code = "Lambda.InvokeFailed";
        *message = "The Lambda function's worker command could not be started";
        return -EIO;
    }
    rc = worker_exchange(fn, event, len, resp, hytime_mono_ms() + fn->timeout_ms, code, message);
    if (rc < 0) {
        /* Whatever went wrong, the worker's state is unknown: the next call gets a fresh one. */
        LOG_WARN("lambdafn", "worker failed, restarting it on the next call",
                 "function=%s pid=%d code=%s", fn->key, (int)fn->pid, *code);
        worker_stop(fn);
        return -EIO;
    }
    return 0;
}

int lambdafn_invoke(struct lambdafn *fn, const char *event, size_t len, struct buf *resp,
                    const char **code, const char **message)
{
    int rc;
    buf_reset(resp);
    pthread_mutex_lock(&fn->mu);
    if (fn->url)
        rc = invoke_url(fn, event, len, resp, code, message);
    else
        rc = invoke_command(fn, event, len, resp, code, message);
    pthread_mutex_unlock(&fn->mu);
    if (rc < 0 && rc != -EIO) {
        *code = "Lambda.InvokeFailed";
        *message = "The Lambda function could not be invoked";
        rc = -EIO;
    }
    return rc;
}

void lambdafn_discard(struct lambdafn *fn)
{
    pthread_mutex_lock(&fn->mu);
    if (!fn->url && fn->pid > 0) {
        LOG_WARN("lambdafn", "worker answered an unusable response, restarting it",
                 "function=%s pid=%d", fn->key, (int)fn->pid);
        worker_stop(fn);
    }
    pthread_mutex_unlock(&fn->mu);
}
