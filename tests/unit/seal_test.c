/* Unit tests for src/stream/seal.c (frame seal/open, key files, the master key) and for sealed
 * frames in the WAL (mixed plain and sealed records, missing keys, damaged ciphertext). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "stream/seal.h"
#include "stream/wal.h"
#include "stream/wal_int.h"

static void key_make(struct seal_key *k, uint8_t fill)
{
    memset(k->key, fill, sizeof k->key);
    k->key[0] ^= 0x5a;
    seal_key_id(k);
}

static char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/sealtest-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    char *s = hy_strdup(d);
    assert_non_null(s);
    return s;
}

static void tmpdir_free(char *d)
{
    assert_int_equal(fsutil_remove_tree(d), 0);
    hy_free(d);
}

/* ---- frames ------------------------------------------------------------------------------- */

static void test_seal_frame_round_trips_and_hides_the_plaintext(void **state)
{
    (void)state;
    struct seal_key k;
    key_make(&k, 1);
    struct seal_ring *ring = NULL;
    assert_int_equal(seal_ring_test_new(&k, 1, &ring), 0);
    struct seal_sealer s = {0};
    assert_int_equal(seal_sealer_set(&s, &k), 0);
    static const char msg[] = "PLAINTEXT-MARKER hello sealed world";
    uint8_t sealed[sizeof msg + SEAL_OVERHEAD], out[sizeof msg];
    assert_int_equal(seal_frame(&s, 7, 1234, msg, sizeof msg, sealed), 0);
    assert_memory_equal(sealed, k.id, SEAL_ID_LEN);
    assert_null(memmem(sealed, sizeof sealed, "PLAINTEXT", 9));
    char id[2 * SEAL_ID_LEN + 1];
    assert_int_equal(seal_open(ring, 7, 1234, sealed, sizeof sealed, out, id), 0);
    assert_memory_equal(out, msg, sizeof msg);
    /* An empty record seals too. */
    uint8_t empty[SEAL_OVERHEAD];
    assert_int_equal(seal_frame(&s, 8, 1, "", 0, empty), 0);
    assert_int_equal(seal_open(ring, 8, 1, empty, sizeof empty, out, id), 0);
    seal_ring_free(ring);
}

static void test_seal_nonces_never_repeat_within_or_across_sealers(void **state)
{
    (void)state;
    struct seal_key k;
    key_make(&k, 2);
    struct seal_sealer a = {0}, b = {0};
    assert_int_equal(seal_sealer_set(&a, &k), 0);
    assert_int_equal(seal_sealer_set(&b, &k), 0); /* a restart: a new salt */
    uint8_t f1[1 + SEAL_OVERHEAD], f2[1 + SEAL_OVERHEAD], f3[1 + SEAL_OVERHEAD];
    assert_int_equal(seal_frame(&a, 1, 0, "x", 1, f1), 0);
    assert_int_equal(seal_frame(&a, 1, 0, "x", 1, f2), 0);
    assert_int_equal(seal_frame(&b, 1, 0, "x", 1, f3), 0);
    assert_memory_not_equal(f1 + SEAL_ID_LEN, f2 + SEAL_ID_LEN, SEAL_NONCE_LEN);
    assert_memory_not_equal(f1 + SEAL_ID_LEN, f3 + SEAL_ID_LEN, SEAL_NONCE_LEN);
    /* The counter about to wrap takes a fresh salt instead of reusing nonce 0. */
    uint8_t salt[8];
    memcpy(salt, a.salt, sizeof salt);
    a.counter = UINT32_MAX;
    assert_int_equal(seal_frame(&a, 2, 0, "x", 1, f1), 0);
    assert_memory_not_equal(a.salt, salt, sizeof salt);
}

static void test_seal_open_refuses_missing_key_wrong_key_and_altered_bytes(void **state)
{
    (void)state;
    struct seal_key k, other;
    key_make(&k, 3);
    key_make(&other, 4);
    struct seal_ring *ring = NULL;
    assert_int_equal(seal_ring_test_new(&other, 1, &ring), 0);
    struct seal_sealer s = {0};
    assert_int_equal(seal_sealer_set(&s, &k), 0);
    static const char msg[] = "some record bytes";
    uint8_t sealed[sizeof msg + SEAL_OVERHEAD], out[sizeof msg];
    char id[2 * SEAL_ID_LEN + 1];
    assert_int_equal(seal_frame(&s, 5, 99, msg, sizeof msg, sealed), 0);
    /* Missing: the ring has no key with this id. */
    assert_int_equal(seal_open(ring, 5, 99, sealed, sizeof sealed, out, id), HY_ENOKEY);
    assert_int_equal(strlen(id), 2 * SEAL_ID_LEN);
    assert_int_equal(seal_open(NULL, 5, 99, sealed, sizeof sealed, out, id), HY_ENOKEY);
    seal_ring_free(ring);
    /* Wrong key bytes under the right id (a KeyARN whose key changed, in a frame claiming k):
     * the tag fails and nothing readable comes out. */
    struct seal_ring *r2 = NULL;
    assert_int_equal(seal_ring_test_new(&k, 1, &r2), 0);
    struct seal_key fake = other;
    memcpy(fake.id, k.id, SEAL_ID_LEN);
    struct seal_sealer fs = {0};
    assert_int_equal(seal_sealer_set(&fs, &fake), 0);
    uint8_t forged[sizeof sealed];
    assert_int_equal(seal_frame(&fs, 5, 99, msg, sizeof msg, forged), 0);
    assert_int_equal(seal_open(r2, 5, 99, forged, sizeof forged, out, id), HY_ECORRUPT);
    assert_int_equal(seal_open(r2, 5, 99, sealed, sizeof sealed, out, id), 0);
    /* Every single flipped bit anywhere after the id, and a moved frame, is refused. */
    for (size_t i = SEAL_ID_LEN; i < sizeof sealed; i++) {
        sealed[i] ^= 0x10;
        memset(out, 0xee, sizeof out);
        assert_int_equal(seal_open(r2, 5, 99, sealed, sizeof sealed, out, id), HY_ECORRUPT);
        for (size_t j = 0; j < sizeof out; j++)
            assert_int_equal(out[j], 0); /* no unauthenticated plaintext left behind */
        sealed[i] ^= 0x10;
    }
    assert_int_equal(seal_open(r2, 6, 99, sealed, sizeof sealed, out, id), HY_ECORRUPT);
    assert_int_equal(seal_open(r2, 5, 98, sealed, sizeof sealed, out, id), HY_ECORRUPT);
    assert_int_equal(seal_open(r2, 5, 99, sealed, SEAL_OVERHEAD - 1, out, id), HY_ECORRUPT);
    seal_ring_free(r2);
}

/* ---- key files ---------------------------------------------------------------------------- */

struct seen {
    int n;
    int cmds;
};

static int count_entry(void *arg, const char *arn, const char *hex, const char *const *argv)
{
    struct seen *s = arg;
    assert_non_null(arn);
    assert_true((hex != NULL) != (argv != NULL));
    s->n++;
    s->cmds += argv != NULL;
    return 0;
}

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

static void test_seal_keys_parse_accepts_hex_and_commands_and_names_bad_input(void **state)
{
    (void)state;
    struct seen s = {0};
    const char *reason = NULL;
    const char *good = "{\"arn:a\": \"" HEX64 "\", \"arn:b\": {\"command\": [\"echo\", \"x\"]}}";
    assert_int_equal(seal_keys_parse(good, strlen(good), count_entry, &s, &reason), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.cmds, 1);
    static const char *const bad[] = {
        "[]",
        "{\"a\": \"00\"}",
        "{\"a\": \"" HEX64 "0\"}",
        "{\"a\": 5}",
        "{\"a\": {\"command\": []}}",
        "{\"a\": {\"command\": [\"\"]}}",
        "{\"a\": {\"command\": [\"x\"], \"more\": 1}}",
        "{\"a\": {\"command\": [1]}}",
        "{\"\": \"" HEX64 "\"}",
        "{\"a\": \"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reason = NULL;
        assert_int_equal(seal_keys_parse(bad[i], strlen(bad[i]), count_entry, &s, &reason),
                         HY_EBADMSG);
        assert_non_null(reason);
    }
    uint8_t key[SEAL_KEY_LEN];
    assert_int_equal(seal_hex_key(" " HEX64 "\n", strlen(HEX64) + 2, key), 0);
    assert_int_equal(key[0], 0x00);
    assert_int_equal(key[31], 0xff);
}

static void write_file(const char *path, const char *text)
{
    assert_int_equal(fsutil_write_atomic(path, text, strlen(text)), 0);
}

static void test_seal_ring_loads_hex_and_command_keys_and_keeps_the_master_key(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char kms[512], mk[512];
    snprintf(kms, sizeof kms, "%s/keys.json", dir);
    snprintf(mk, sizeof mk, "%s/kms/master.key", dir);
    write_file(kms, "{\"arn:one\": \"" HEX64 "\", \"arn:two\": {\"command\": [\"sh\", \"-c\", "
                    "\"printf ' %s\\\\n' " HEX64 "\"]}}");
    struct seal_ring *r = NULL;
    assert_int_equal(seal_ring_new(dir, kms, &r), 0);
    const struct seal_key *one = NULL, *two = NULL, *m1 = NULL, *m2 = NULL;
    assert_int_equal(seal_ring_customer(r, "arn:one", &one), 0);
    assert_int_equal(seal_ring_customer(r, "arn:two", &two), 0);
    assert_memory_equal(one->key, two->key, SEAL_KEY_LEN);
    assert_int_equal(seal_ring_customer(r, "arn:three", &one), HY_ENOTFOUND);
    struct stat st;
    assert_int_equal(stat(mk, &st), -1); /* created at first use only */
    assert_int_equal(seal_ring_master(r, &m1), 0);
    assert_int_equal(stat(mk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_ptr_equal(seal_ring_find(r, m1->id), m1);
    uint8_t id[SEAL_KEY_LEN];
    memcpy(id, m1->key, SEAL_KEY_LEN);
    seal_ring_free(r);
    /* A restart reads the same master key back. */
    assert_int_equal(seal_ring_new(dir, NULL, &r), 0);
    assert_int_equal(seal_ring_master(r, &m2), 0);
    assert_memory_equal(m2->key, id, SEAL_KEY_LEN);
    seal_ring_free(r);
    /* A failing command, a duplicate KeyARN and a damaged master key stop the start. */
    write_file(kms, "{\"arn:x\": {\"command\": [\"false\"]}}");
    assert_int_not_equal(seal_ring_new(dir, kms, &r), 0);
    write_file(kms, "{\"arn:x\": \"" HEX64 "\", \"arn:x\": \"" HEX64 "\"}");
    assert_int_equal(seal_ring_new(dir, kms, &r), HY_EEXIST);
    write_file(kms, "{\"arn:x\": {\"command\": [\"/nonexistent/prog\"]}}");
    assert_int_not_equal(seal_ring_new(dir, kms, &r), 0);
    write_file(mk, "short\n");
    assert_int_equal(seal_ring_new(dir, NULL, &r), HY_EBADMSG);
    tmpdir_free(dir);
}

/* ---- sealed frames in the WAL ------------------------------------------------------------- */

static void sync_done(void *arg, int status)
{
    __atomic_store_n((int *)arg, status == 0 ? 1 : -1, __ATOMIC_SEQ_CST);
}

static void append_one(struct wal *w, const char *text)
{
    int done = 0;
    uint64_t seq;
    struct wal_rec rec = {text, strlen(text)};
    assert_int_equal(wal_append(w, &rec, 1, 1000, &seq, sync_done, &done), 0);
    for (int i = 0; i < 20000 && !__atomic_load_n(&done, __ATOMIC_SEQ_CST); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(done, 1);
}

static void expect_next(struct wal_reader *rd, const char *text)
{
    struct wal_record rec;
    assert_int_equal(wal_reader_next(rd, &rec), 1);
    assert_int_equal(rec.len, strlen(text));
    assert_memory_equal(rec.data, text, rec.len);
}

static size_t seg_read(const char *dir, uint8_t *buf, size_t cap, char *path, size_t path_len)
{
    snprintf(path, path_len, "%s/00000000000000000001.seg", dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    close(fd);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_wal_mixes_plain_and_sealed_records_across_key_switches(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct seal_key keys[2];
    key_make(&keys[0], 7);
    key_make(&keys[1], 8);
    struct seal_ring *ring = NULL;
    assert_int_equal(seal_ring_test_new(keys, 2, &ring), 0);
    struct wal_config cfg;
    wal_config_default(&cfg);
    cfg.ring = ring;
    struct wal *w = NULL;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    append_one(w, "plain-one MARKER");
    assert_int_equal(wal_seal(w, seal_ring_find(ring, keys[0].id)), 0);
    append_one(w, "sealed-by-0 MARKER");
    assert_int_equal(wal_seal(w, seal_ring_find(ring, keys[1].id)), 0);
    append_one(w, "sealed-by-1 MARKER");
    assert_int_equal(wal_seal(w, NULL), 0);
    append_one(w, "plain-two MARKER");
    wal_close(w);

    uint8_t buf[4096];
    char path[512];
    size_t n = seg_read(dir, buf, sizeof buf, path, sizeof path);
    assert_non_null(memmem(buf, n, "plain-one", 9));
    assert_null(memmem(buf, n, "sealed-by", 9));

    /* Recovery scans the sealed frames like any other, and a reader opens them. */
    w = NULL;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    assert_int_equal(wal_durable_next(w), 5);
    struct wal_reader *rd = NULL;
    assert_int_equal(wal_reader_open(w, 1, &rd), 0);
    expect_next(rd, "plain-one MARKER");
    expect_next(rd, "sealed-by-0 MARKER");
    expect_next(rd, "sealed-by-1 MARKER");
    expect_next(rd, "plain-two MARKER");
    wal_reader_close(rd);
    wal_close(w);

    /* Without key 1 the reader stops at its record, every time, and returns nothing else. */
    struct seal_ring *partial = NULL;
    assert_int_equal(seal_ring_test_new(keys, 1, &partial), 0);
    cfg.ring = partial;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    assert_int_equal(wal_reader_open(w, 1, &rd), 0);
    expect_next(rd, "plain-one MARKER");
    expect_next(rd, "sealed-by-0 MARKER");
    struct wal_record rec;
    assert_int_equal(wal_reader_next(rd, &rec), HY_ENOKEY);
    assert_int_equal(wal_reader_next(rd, &rec), HY_ENOKEY);
    wal_reader_close(rd);
    wal_close(w);
    seal_ring_free(partial);

    /* A flipped ciphertext byte fails the frame's CRC: reported as damage, never as data. */
    uint8_t *hit = memmem(buf, n, keys[1].id, SEAL_ID_LEN);
    assert_non_null(hit);
    size_t at = (size_t)(hit - buf) + SEAL_ID_LEN + SEAL_NONCE_LEN + 3;
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t b = buf[at] ^ 0x01;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
    close(fd);
    cfg.ring = ring;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    assert_int_equal(wal_reader_open(w, 1, &rd), 0);
    expect_next(rd, "plain-one MARKER");
    expect_next(rd, "sealed-by-0 MARKER");
    assert_int_equal(wal_reader_next(rd, &rec), WAL_READ_DAMAGED);
    assert_int_equal(wal_reader_damage(rd)->first_seq, 3);
    expect_next(rd, "plain-two MARKER");
    wal_reader_close(rd);
    wal_close(w);
    seal_ring_free(ring);
    tmpdir_free(dir);
}

static void test_wal_recovery_cuts_a_torn_sealed_tail(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct seal_key k;
    key_make(&k, 9);
    struct seal_ring *ring = NULL;
    assert_int_equal(seal_ring_test_new(&k, 1, &ring), 0);
    struct wal_config cfg;
    wal_config_default(&cfg);
    cfg.ring = ring;
    struct wal *w = NULL;
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    assert_int_equal(wal_seal(w, seal_ring_find(ring, k.id)), 0);
    append_one(w, "first sealed");
    append_one(w, "second sealed, torn");
    wal_close(w);
    uint8_t buf[4096];
    char path[512];
    size_t n = seg_read(dir, buf, sizeof buf, path, sizeof path);
    assert_int_equal(truncate(path, (off_t)(n - 5)), 0);
    assert_int_equal(wal_open(dir, &cfg, &w), 0);
    struct wal_reader *rd = NULL;
    assert_int_equal(wal_reader_open(w, 1, &rd), 0);
    expect_next(rd, "first sealed");
    struct wal_record rec;
    assert_int_equal(wal_reader_next(rd, &rec), 0);
    wal_reader_close(rd);
    /* The log goes on, sealed again after a restart's wal_seal. */
    assert_int_equal(wal_seal(w, seal_ring_find(ring, k.id)), 0);
    append_one(w, "third sealed");
    assert_int_equal(wal_reader_open(w, 1, &rd), 0);
    expect_next(rd, "first sealed");
    expect_next(rd, "third sealed");
    wal_reader_close(rd);
    wal_close(w);
    seal_ring_free(ring);
    tmpdir_free(dir);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_frame_round_trips_and_hides_the_plaintext),
        cmocka_unit_test(test_seal_nonces_never_repeat_within_or_across_sealers),
        cmocka_unit_test(test_seal_open_refuses_missing_key_wrong_key_and_altered_bytes),
        cmocka_unit_test(test_seal_keys_parse_accepts_hex_and_commands_and_names_bad_input),
        cmocka_unit_test(test_seal_ring_loads_hex_and_command_keys_and_keeps_the_master_key),
        cmocka_unit_test(test_wal_mixes_plain_and_sealed_records_across_key_switches),
        cmocka_unit_test(test_wal_recovery_cuts_a_torn_sealed_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
