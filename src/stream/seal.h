/*
 * seal: encryption at rest for stream logs. Owns the key ring (every 256-bit key this process
 * can use: hydrant's own master key in the data directory and the customer keys named by KeyARN
 * in the --kms-keys file) and the frame sealing format the WAL uses for records written while a
 * stream's encryption is on. AES-256-GCM comes from OpenSSL's EVP layer (libcrypto, already a
 * dependency); the file formats are hydrant's own, so the parser is hand-written on cJSON.
 *
 * Sealed frame data (what the WAL stores and checksums instead of the record's bytes):
 *     key id (8) | nonce (12) | ciphertext (len) | GCM tag (16)
 * key id is the first 8 bytes of SHA-256("hydrant-seal-key-id\0" | key): a reader finds the key by
 * it, and a changed key under the same KeyARN shows up as a missing key, never as garbage. The
 * GCM additional data is seq | arrival_ms (little endian), so a frame cannot be moved. Nonces are
 * an 8-byte random salt (drawn from OpenSSL's CSPRNG when a sealer is set up and again every 2^32
 * frames) and a 32-bit counter: a (key, nonce) pair repeats across restarts only if two 64-bit
 * random salts collide.
 *
 * Master key: <data-dir>/kms/master.key, 64 hex digits, created at first use with mode 0600 and
 * fsynced (file and directory) before any frame is sealed with it.
 * --kms-keys FILE: {"<KeyARN>": "<64 hex>", "<KeyARN>": {"command": ["prog", "arg"...]}}; a
 * command prints the 64 hex digits (surrounding white space ignored); commands run at load.
 *
 * Threads: the ring is thread-safe (keys are added, never removed, so a returned key pointer
 * lives as long as the ring). A sealer belongs to its caller's lock (the WAL's mutex).
 */
#ifndef HY_SEAL_H
#define HY_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
#define SEAL_ID_LEN 8
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
/* Bytes a sealed frame's data takes beyond the record. */
#define SEAL_OVERHEAD (SEAL_ID_LEN + SEAL_NONCE_LEN + SEAL_TAG_LEN)
/* The --kms-keys file and a command's output are refused past this size. */
#define SEAL_FILE_MAX_LEN 65536
/* KeyARN bound (Firehose: AWSKMSKeyARN is at most 512). */
#define SEAL_ARN_MAX_LEN 512

struct seal_key {
    uint8_t key[SEAL_KEY_LEN];
    uint8_t id[SEAL_ID_LEN];
};

/* Nonce state for sealing with one key; caller-provided memory, guarded by the caller. */
struct seal_sealer {
    const struct seal_key *key; /* NULL: sealing is off */
    uint8_t salt[8];
    uint32_t counter;
};

struct seal_ring;

/* Called once per entry of a --kms-keys document: arn borrowed for the call; either hex (the
 * 64 digits, validated) or argv (NULL-terminated command line, borrowed) is set. Return 0 to
 * go on, or an error to stop parsing with it. */
typedef int (*seal_entry_fn)(void *arg, const char *arn, const char *hex, const char *const *argv);
/* Parse a --kms-keys document (not necessarily NUL-terminated). 0, HY_EBADMSG with *reason (a
 * static message), HY_E2BIG, HY_ENOMEM, or fn's error. */
int seal_keys_parse(const char *text, size_t len, seal_entry_fn fn, void *arg, const char **reason);
/* 64 hex digits (exactly, white space around allowed) into key; 0 or HY_EBADMSG. */
int seal_hex_key(const char *text, size_t len, uint8_t key[SEAL_KEY_LEN]);
/* Fill k->id from k->key. */
void seal_key_id(struct seal_key *k);

/* A ring for data_dir (its master key is loaded now if it exists) and the --kms-keys file
 * (NULL: none; its commands run now). 0 and *out (free with seal_ring_free), or an error
 * (logged with the reason). Blocks. */
int seal_ring_new(const char *data_dir, const char *kms_file, struct seal_ring **out);
void seal_ring_free(struct seal_ring *r);
/* hydrant's master key (AWS_OWNED_CMK), created durably at first use. 0 and *out (borrowed for
 * the ring's life), or a disk error. Blocks on fsync the first time. */
int seal_ring_master(struct seal_ring *r, const struct seal_key **out);
/* The customer key named arn. 0 and *out, or HY_ENOTFOUND. */
int seal_ring_customer(struct seal_ring *r, const char *arn, const struct seal_key **out);
/* The key with this id, or NULL. */
const struct seal_key *seal_ring_find(struct seal_ring *r, const uint8_t id[SEAL_ID_LEN]);
/* A ring holding exactly the given keys (tests). */
int seal_ring_test_new(const struct seal_key *keys, size_t n, struct seal_ring **out);

/* Start sealing with key (NULL: stop); draws a fresh salt. 0 or -EIO (no randomness). */
int seal_sealer_set(struct seal_sealer *s, const struct seal_key *key);
/* Seal len bytes of in into out (len + SEAL_OVERHEAD bytes; may not overlap in). 0, or -EIO
 * when OpenSSL fails or no salt can be drawn (nothing usable in out). */
int seal_frame(struct seal_sealer *s, uint64_t seq, int64_t arrival_ms, const void *in, size_t len,
               uint8_t *out);
/* Open sealed frame data in[0..len) into out (len - SEAL_OVERHEAD bytes). 0; HY_ENOKEY when the
 * ring lacks its key (*id_hex, 17 bytes, names it); HY_ECORRUPT when too short or the tag does
 * not verify (wrong key bytes or altered data: never returned as a record). */
int seal_open(struct seal_ring *r, uint64_t seq, int64_t arrival_ms, const uint8_t *in, size_t len,
              uint8_t *out, char id_hex[2 * SEAL_ID_LEN + 1]);

#endif
