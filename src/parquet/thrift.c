/*
 * thrift: compact-protocol writer (see thrift.h). Field headers pack the id delta into the high
 * nibble when it is 1..15, as the compact protocol specifies; otherwise the id follows as a zigzag
 * varint.
 */
#include "parquet/thrift.h"

#include "base/err.h"

void thrift_init(struct thrift_w *t, struct buf *out)
{
    t->out = out;
    t->err = 0;
    t->depth = 0;
    t->last[0] = 0;
}

int thrift_err(const struct thrift_w *t)
{
    return t->err;
}

static void put(struct thrift_w *t, const void *p, size_t n)
{
    if (t->err)
        return;
    int rc = buf_append(t->out, p, n);
    if (rc)
        t->err = rc;
}

int thrift_uvarint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return buf_append(b, tmp, n);
}

static void uvar(struct thrift_w *t, uint64_t v)
{
    if (t->err)
        return;
    int rc = thrift_uvarint(t->out, v);
    if (rc)
        t->err = rc;
}

static uint64_t zigzag(int64_t v)
{
    /* Zigzag without shifting a negative value: all ones for negatives, else zero. */
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static void field(struct thrift_w *t, int16_t id, int ctype)
{
    int16_t last = t->last[t->depth];
    int delta = id - last;
    if (delta > 0 && delta <= 15) {
        uint8_t h = (uint8_t)((delta << 4) | ctype);
        put(t, &h, 1);
    } else {
        uint8_t h = (uint8_t)ctype;
        put(t, &h, 1);
        uvar(t, zigzag(id));
    }
    t->last[t->depth] = id;
}

void thrift_i32(struct thrift_w *t, int16_t id, int32_t v)
{
    field(t, id, THRIFT_I32);
    uvar(t, zigzag(v));
}

void thrift_i64(struct thrift_w *t, int16_t id, int64_t v)
{
    field(t, id, THRIFT_I64);
    uvar(t, zigzag(v));
}

void thrift_bool(struct thrift_w *t, int16_t id, bool v)
{
    field(t, id, v ? THRIFT_BOOL_TRUE : THRIFT_BOOL_FALSE);
}

void thrift_i8(struct thrift_w *t, int16_t id, int8_t v)
{
    field(t, id, THRIFT_I8);
    put(t, &v, 1);
}

void thrift_binary(struct thrift_w *t, int16_t id, const void *p, size_t len)
{
    field(t, id, THRIFT_BINARY);
    uvar(t, len);
    put(t, p, len);
}

void thrift_str(struct thrift_w *t, int16_t id, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    thrift_binary(t, id, s, n);
}

static void push(struct thrift_w *t)
{
    if (t->depth + 1 >= THRIFT_MAX_DEPTH) {
        if (!t->err)
            t->err = HY_E2BIG;
        return;
    }
    t->last[++t->depth] = 0;
}

void thrift_struct_begin(struct thrift_w *t, int16_t id)
{
    field(t, id, THRIFT_STRUCT);
    push(t);
}

void thrift_struct_end(struct thrift_w *t)
{
    uint8_t stop = 0;
    put(t, &stop, 1);
    if (t->depth > 0)
        t->depth--;
}

void thrift_list_begin(struct thrift_w *t, int16_t id, enum thrift_ctype elem, size_t n)
{
    field(t, id, THRIFT_LIST);
    if (n < 15) {
        uint8_t h = (uint8_t)((n << 4) | elem);
        put(t, &h, 1);
    } else {
        uint8_t h = (uint8_t)(0xF0 | elem);
        put(t, &h, 1);
        uvar(t, n);
    }
}

void thrift_elem_begin(struct thrift_w *t)
{
    push(t);
}

void thrift_elem_i32(struct thrift_w *t, int32_t v)
{
    uvar(t, zigzag(v));
}

void thrift_elem_binary(struct thrift_w *t, const void *p, size_t len)
{
    uvar(t, len);
    put(t, p, len);
}

void thrift_stop(struct thrift_w *t)
{
    uint8_t stop = 0;
    put(t, &stop, 1);
}
