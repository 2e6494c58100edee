#include "base/slotfile.h"

#include "base/crc32c.h"
#include "base/err.h"
#include "base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC 0x46535948u /* "HYSF" little endian */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A slot's generation if it is valid, else 0. */
static uint64_t slot_gen(const uint8_t *s)
{
    if (get32(s) != MAGIC)
        return 0;
    uint32_t len = get32(s + 16);
    if (len > SLOTFILE_MAX_PAYLOAD)
        return 0;
    if (crc32c(0, s + 8, 12 + (size_t)len) != get32(s + 4))
        return 0;
    return get64(s + 8);
}

static int read_slots(int fd, uint8_t slots[2][SLOTFILE_SLOT_LEN])
{
    ssize_t n = pread(fd, slots, 2 * SLOTFILE_SLOT_LEN, 0);
    if (n < 0)
        return -errno;
    if ((size_t)n < 2 * SLOTFILE_SLOT_LEN)
        memset((uint8_t *)slots + n, 0, 2 * SLOTFILE_SLOT_LEN - (size_t)n);
    return 0;
}

int slotfile_open(struct slotfile *sf, const char *path)
{
    sf->fd = -1;
    sf->gen = 0;
    int rc;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        /* Create at full size and make the entry durable before the first update relies on it. */
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        char dir[PATH_MAX];
        size_t n = strlen(path);
        const char *slash = strrchr(path, '/');
        if (n >= sizeof dir) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        if (!slash) {
            dir[0] = '.';
            dir[1] = '\0';
        } else {
            size_t dl = slash == path ? 1 : (size_t)(slash - path);
            memcpy(dir, path, dl);
            dir[dl] = '\0';
        }
        if (ftruncate(fd, 2 * SLOTFILE_SLOT_LEN) || fsync(fd)) {
            rc = -errno;
            goto fail;
        }
        if ((rc = fsutil_fsync_dir(dir)))
            goto fail;
    } else if (fd < 0) {
        return -errno;
    }
    uint8_t slots[2][SLOTFILE_SLOT_LEN];
    if ((rc = read_slots(fd, slots)))
        goto fail;
    uint64_t g0 = slot_gen(slots[0]), g1 = slot_gen(slots[1]);
    sf->gen = g0 > g1 ? g0 : g1;
    sf->fd = fd;
    return 0;
fail:
    close(fd);
    return rc;
}

int slotfile_read(struct slotfile *sf, void *buf, size_t cap, size_t *len)
{
    uint8_t slots[2][SLOTFILE_SLOT_LEN];
    int rc = read_slots(sf->fd, slots);
    if (rc)
        return rc;
    uint64_t g0 = slot_gen(slots[0]), g1 = slot_gen(slots[1]);
    *len = 0;
    if (!g0 && !g1)
        return 0;
    const uint8_t *s = g0 > g1 ? slots[0] : slots[1];
    uint32_t n = get32(s + 16);
    if (n > cap)
        return HY_E2BIG;
    memcpy(buf, s + SLOTFILE_HDR_LEN, n);
    *len = n;
    return 0;
}

int slotfile_write(struct slotfile *sf, const void *payload, size_t len)
{
    if (len > SLOTFILE_MAX_PAYLOAD)
        return HY_E2BIG;
    uint8_t s[SLOTFILE_SLOT_LEN];
    uint64_t gen = sf->gen + 1;
    put32(s, MAGIC);
    put64(s + 8, gen);
    put32(s + 16, (uint32_t)len);
    memcpy(s + SLOTFILE_HDR_LEN, payload, len);
    put32(s + 4, crc32c(0, s + 8, 12 + len));
    /* Odd generations live in slot 1, even in slot 0: never overwrite the newest state. */
    off_t off = (off_t)((gen & 1) * SLOTFILE_SLOT_LEN);
    size_t want = SLOTFILE_HDR_LEN + len;
    size_t done = 0;
    while (done < want) {
        ssize_t n = pwrite(sf->fd, s + done, want - done, off + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    if (fdatasync(sf->fd))
        return -errno;
    sf->gen = gen;
    return 0;
}

void slotfile_close(struct slotfile *sf)
{
    if (sf->fd >= 0)
        close(sf->fd);
    sf->fd = -1;
}
