/*
 * seal: key ring and AES-256-GCM frame sealing (see seal.h). OpenSSL's EVP does the cipher, the
 * hash and the randomness; no Debian library reads hydrant's small key-file formats, so they are
 * parsed here on cJSON (already a dependency).
 */
#include "stream/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/mem.h"

extern char **environ;

#define RING_MAX_KEYS 1024
#define CMD_MAX_ARGS 32

struct ring_entry {
    char *arn; /* NULL for the master key */
    struct seal_key *key;
};

struct seal_ring {
    pthread_mutex_t mu;
    char *kms_dir; /* <data-dir>/kms; NULL for test rings */
    struct ring_entry *v;
    size_t n;
    size_t cap;
    const struct seal_key *master;
};

/* ---- formats -------------------------------------------------------------------------------- */

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int seal_hex_key(const char *text, size_t len, uint8_t key[SEAL_KEY_LEN])
{
    while (len && is_space((unsigned char)text[0])) {
        text++;
        len--;
    }
    while (len && is_space((unsigned char)text[len - 1]))
        len--;
    if (len != 2 * SEAL_KEY_LEN)
        return HY_EBADMSG;
    return hex_decode(text, SEAL_KEY_LEN, key);
}

void seal_key_id(struct seal_key *k)
{
    static const char label[] = "hydrant-seal-key-id"; /* hashed with its NUL */
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(c, label, sizeof label) &&
             EVP_DigestUpdate(c, k->key, SEAL_KEY_LEN) && EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    /* Only allocation can fail here; an all-zero id then matches no sealed frame's real id. */
    if (!ok)
        memset(md, 0, sizeof md);
    memcpy(k->id, md, SEAL_ID_LEN);
}

int seal_keys_parse(const char *text, size_t len, seal_entry_fn fn, void *arg, const char **reason)
{
    *reason = NULL;
    if (len > SEAL_FILE_MAX_LEN) {
        *reason = "the key file is too large";
        return HY_E2BIG;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        *reason = "the key file is not a JSON object";
        rc = HY_EBADMSG;
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        const char *arn = e->string;
        if (!arn || !arn[0] || strlen(arn) > SEAL_ARN_MAX_LEN) {
            *reason = "a KeyARN is empty or longer than 512 characters";
            rc = HY_EBADMSG;
            goto out;
        }
        if (cJSON_IsString(e)) {
            uint8_t k[SEAL_KEY_LEN];
            if (seal_hex_key(e->valuestring, strlen(e->valuestring), k)) {
                *reason = "a key is not 64 hex digits";
                rc = HY_EBADMSG;
                goto out;
            }
            OPENSSL_cleanse(k, sizeof k);
            rc = fn(arg, arn, e->valuestring, NULL);
        } else if (cJSON_IsObject(e)) {
            const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(e, "command");
            const char *argv[CMD_MAX_ARGS + 1];
            int n = cJSON_IsArray(cmd) ? cJSON_GetArraySize(cmd) : 0;
            if (n < 1 || n > CMD_MAX_ARGS || cJSON_GetArraySize(e) != 1) {
                *reason = "a key entry must be {\"command\": [program, args...]} (1 to 32 strings)";
                rc = HY_EBADMSG;
                goto out;
            }
            int i = 0;
            const cJSON *a;
            cJSON_ArrayForEach(a, cmd)
            {
                if (!cJSON_IsString(a) || (i == 0 && !a->valuestring[0])) {
                    *reason = "a command's items must be strings (the program non-empty)";
                    rc = HY_EBADMSG;
                    goto out;
                }
                argv[i++] = a->valuestring;
            }
            argv[i] = NULL;
            rc = fn(arg, arn, NULL, argv);
        } else {
            *reason = "a key entry must be a hex string or {\"command\": [...]}";
            rc = HY_EBADMSG;
        }
        if (rc)
            goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- ring ----------------------------------------------------------------------------------- */

/* Add a key (copied); caller holds r->mu or owns r alone. */
static int ring_add(struct seal_ring *r, const char *arn, const uint8_t key[SEAL_KEY_LEN],
                    const struct seal_key **out)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        if (cap > RING_MAX_KEYS)
            return HY_E2BIG;
        struct ring_entry *v = hy_realloc(r->v, cap * sizeof *v);
        if (!v)
            return HY_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    struct seal_key *k = hy_calloc(1, sizeof *k);
    char *a = arn ? hy_strdup(arn) : NULL;
    if (!k || (arn && !a)) {
        hy_free(k);
        hy_free(a);
        return HY_ENOMEM;
    }
    memcpy(k->key, key, SEAL_KEY_LEN);
    seal_key_id(k);
    r->v[r->n].arn = a;
    r->v[r->n].key = k;
    r->n++;
    if (out)
        *out = k;
    return 0;
}

static int ring_alloc(struct seal_ring **out)
{
    struct seal_ring *r = hy_calloc(1, sizeof *r);
    if (!r)
        return HY_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void seal_ring_free(struct seal_ring *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        OPENSSL_cleanse(r->v[i].key, sizeof *r->v[i].key);
        hy_free(r->v[i].key);
        hy_free(r->v[i].arn);
    }
    hy_free(r->v);
    hy_free(r->kms_dir);
    pthread_mutex_destroy(&r->mu);
    hy_free(r);
}

int seal_ring_test_new(const struct seal_key *keys, size_t n, struct seal_ring **out)
{
    struct seal_ring *r = NULL;
    int rc = ring_alloc(&r);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char arn[32];
        snprintf(arn, sizeof arn, "test-key-%zu", i);
        rc = ring_add(r, arn, keys[i].key, NULL);
    }
    if (rc) {
        seal_ring_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Run argv and read what it prints (at most SEAL_FILE_MAX_LEN bytes) into out. */
static int run_command(const char *const *argv, struct buf *out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return -rc;
    }
    char chunk[4096];
    for (;;) {
        ssize_t k = read(fds[0], chunk, sizeof chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (rc == 0)
            rc = buf_append(out, chunk, (size_t)k);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = HY_EBADMSG;
    return rc;
}

static int load_entry(void *arg, const char *arn, const char *hex, const char *const *argv)
{
    struct seal_ring *r = arg;
    uint8_t key[SEAL_KEY_LEN];
    int rc;
    if (hex) {
        rc = seal_hex_key(hex, strlen(hex), key);
    } else {
        struct buf b;
        buf_init(&b, SEAL_FILE_MAX_LEN);
        rc = run_command(argv, &b);
        if (rc == 0)
            rc = seal_hex_key((const char *)b.data, b.len, key);
        if (b.data)
            OPENSSL_cleanse(b.data, b.len);
        buf_fini(&b);
        if (rc) {
            LOG_ERROR("seal", "a --kms-keys command failed or did not print 64 hex digits",
                      "program=%s err=%s", argv[0], hy_errname(rc));
            return rc;
        }
    }
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        if (r->v[i].arn && strcmp(r->v[i].arn, arn) == 0)
            rc = HY_EEXIST;
    if (rc == 0)
        rc = ring_add(r, arn, key, NULL);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

static int master_path(const struct seal_ring *r, struct buf *p, const char *leaf)
{
    buf_reset(p);
    return buf_printf(p, "%s/%s", r->kms_dir, leaf);
}

/* Load <kms>/master.key if it exists. 0 (also when absent) or an error. */
static int master_load(struct seal_ring *r)
{
    struct buf p;
    buf_init(&p, 8192);
    char *text = NULL;
    size_t len = 0;
    uint8_t key[SEAL_KEY_LEN];
    int rc = master_path(r, &p, "master.key");
    if (rc == 0)
        rc = fsutil_read_all((const char *)p.data, &text, &len, 1024);
    if (rc == -ENOENT) {
        rc = 0;
        goto out;
    }
    if (rc == 0 && (rc = seal_hex_key(text, len, key)) != 0)
        LOG_ERROR("seal", "the master key file is not 64 hex digits", "path=%s",
                  (const char *)p.data);
    if (rc == 0)
        rc = ring_add(r, NULL, key, &r->master);
    OPENSSL_cleanse(key, sizeof key);
out:
    if (text) {
        OPENSSL_cleanse(text, len);
        hy_free(text);
    }
    buf_fini(&p);
    return rc;
}

int seal_ring_new(const char *data_dir, const char *kms_file, struct seal_ring **out)
{
    struct seal_ring *r = NULL;
    char *text = NULL;
    size_t len = 0;
    struct buf d;
    buf_init(&d, 8192);
    int rc = ring_alloc(&r);
    if (rc == 0)
        rc = buf_printf(&d, "%s/kms", data_dir);
    if (rc == 0 && !(r->kms_dir = hy_strdup((const char *)d.data)))
        rc = HY_ENOMEM;
    if (rc == 0 && (rc = master_load(r)) != 0)
        LOG_ERROR("seal", "cannot load the master key", "err=%s", hy_errname(rc));
    if (rc == 0 && kms_file) {
        rc = fsutil_read_all(kms_file, &text, &len, SEAL_FILE_MAX_LEN);
        const char *reason = NULL;
        if (rc == 0)
            rc = seal_keys_parse(text, len, load_entry, r, &reason);
        if (rc)
            LOG_ERROR("seal", reason ? reason : "cannot load the --kms-keys file", "path=%s err=%s",
                      kms_file, hy_errname(rc));
    }
    if (text) {
        OPENSSL_cleanse(text, len);
        hy_free(text);
    }
    buf_fini(&d);
    if (rc) {
        seal_ring_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Write a new master key: a 0600 temporary file, fsynced, renamed into place, directory
 * fsynced; only then is it used, so no frame is ever sealed with a key a crash could lose. */
static int master_create(struct seal_ring *r)
{
    uint8_t key[SEAL_KEY_LEN];
    char hex[2 * SEAL_KEY_LEN + 2];
    struct buf tmp, fin;
    buf_init(&tmp, 8192);
    buf_init(&fin, 8192);
    int fd = -1;
    int rc = fsutil_mkdirs(r->kms_dir, 0700);
    if (rc == 0 && RAND_priv_bytes(key, sizeof key) != 1)
        rc = -EIO;
    if (rc == 0)
        rc = master_path(r, &tmp, "master.key.tmp");
    if (rc == 0)
        rc = master_path(r, &fin, "master.key");
    if (rc)
        goto out;
    hex_encode(key, SEAL_KEY_LEN, hex);
    hex[2 * SEAL_KEY_LEN] = '\n';
    fd = open((const char *)tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (write(fd, hex, 2 * SEAL_KEY_LEN + 1) != 2 * SEAL_KEY_LEN + 1 || fsync(fd) < 0)
        rc = -errno ? -errno : -EIO;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    fd = -1;
    if (rc == 0 && rename((const char *)tmp.data, (const char *)fin.data) < 0)
        rc = -errno;
    if (rc == 0)
        rc = fsutil_fsync_dir(r->kms_dir);
    if (rc == 0)
        rc = ring_add(r, NULL, key, &r->master);
    if (rc == 0)
        LOG_INFO("seal", "created the master key (AWS_OWNED_CMK)", "path=%s",
                 (const char *)fin.data);
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(hex, sizeof hex);
    buf_fini(&tmp);
    buf_fini(&fin);
    return rc;
}

int seal_ring_master(struct seal_ring *r, const struct seal_key **out)
{
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    if (!r->master)
        rc = r->kms_dir ? master_create(r) : HY_ENOTFOUND;
    if (rc == 0)
        *out = r->master;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int seal_ring_customer(struct seal_ring *r, const char *arn, const struct seal_key **out)
{
    int rc = HY_ENOTFOUND;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].arn && strcmp(r->v[i].arn, arn) == 0) {
            *out = r->v[i].key;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

const struct seal_key *seal_ring_find(struct seal_ring *r, const uint8_t id[SEAL_ID_LEN])
{
    const struct seal_key *k = NULL;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && !k; i++)
        if (memcmp(r->v[i].key->id, id, SEAL_ID_LEN) == 0)
            k = r->v[i].key;
    pthread_mutex_unlock(&r->mu);
    return k;
}

/* ---- frames --------------------------------------------------------------------------------- */

int seal_sealer_set(struct seal_sealer *s, const struct seal_key *key)
{
    s->key = NULL;
    s->counter = 0;
    if (!key)
        return 0;
    if (RAND_bytes(s->salt, sizeof s->salt) != 1)
        return -EIO;
    s->key = key;
    return 0;
}

static void put_aad(uint8_t aad[16], uint64_t seq, int64_t arrival_ms)
{
    for (int i = 0; i < 8; i++) {
        aad[i] = (uint8_t)(seq >> (8 * i));
        aad[8 + i] = (uint8_t)((uint64_t)arrival_ms >> (8 * i));
    }
}

int seal_frame(struct seal_sealer *s, uint64_t seq, int64_t arrival_ms, const void *in, size_t len,
               uint8_t *out)
{
    /* A counter that would wrap gets a fresh salt first: no nonce repeats under one key. */
    if (s->counter == UINT32_MAX) {
        if (RAND_bytes(s->salt, sizeof s->salt) != 1)
            return -EIO;
        s->counter = 0;
    }
    uint8_t *nonce = out + SEAL_ID_LEN, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + len;
    memcpy(out, s->key->id, SEAL_ID_LEN);
    memcpy(nonce, s->salt, sizeof s->salt);
    for (int i = 0; i < 4; i++)
        nonce[8 + i] = (uint8_t)(s->counter >> (8 * i));
    s->counter++;
    uint8_t aad[16];
    put_aad(aad, seq, arrival_ms);
    int outl = 0, rc = -EIO;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -EIO;
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key->key, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &outl, aad, sizeof aad) != 1)
        goto out;
    /* EVP takes int lengths; a record is at most ~1 MB (WAL_RECORD_MAX_LEN). */
    if (len && EVP_EncryptUpdate(c, ct, &outl, in, (int)len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(c, ct + outl, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int seal_open(struct seal_ring *r, uint64_t seq, int64_t arrival_ms, const uint8_t *in, size_t len,
              uint8_t *out, char id_hex[2 * SEAL_ID_LEN + 1])
{
    if (len < SEAL_OVERHEAD || len - SEAL_OVERHEAD > (size_t)INT32_MAX)
        return HY_ECORRUPT;
    const struct seal_key *k = r ? seal_ring_find(r, in) : NULL;
    if (!k) {
        hex_encode(in, SEAL_ID_LEN, id_hex);
        return HY_ENOKEY;
    }
    size_t ctlen = len - SEAL_OVERHEAD;
    const uint8_t *nonce = in + SEAL_ID_LEN, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + ctlen;
    uint8_t aad[16];
    put_aad(aad, seq, arrival_ms);
    int outl = 0, rc = HY_ECORRUPT;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return HY_ENOMEM;
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce) != 1 ||
        EVP_DecryptUpdate(c, NULL, &outl, aad, sizeof aad) != 1)
        goto out;
    if (ctlen && EVP_DecryptUpdate(c, out, &outl, ct, (int)ctlen) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, (void *)tag) != 1)
        goto out;
    uint8_t last[16];
    if (EVP_DecryptFinal_ex(c, last, &outl) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    /* Never leave unauthenticated plaintext behind for a caller that ignores the result. */
    if (rc && ctlen)
        memset(out, 0, ctlen);
    return rc;
}
