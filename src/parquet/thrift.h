/*
 * thrift: a writer for the Thrift compact protocol, just what a Parquet footer and page headers
 * need (structs, i32/i64 zigzag varints, binary, lists, bools). Written by hand because Debian's
 * Thrift C library (c_glib) pulls GLib and a generated-code layer for a dozen field kinds; the
 * encoding is described in ../shared/specs/parquet-writer.md section 8.
 * Output goes to a caller-owned struct buf; an append past its max makes every later call a no-op
 * and thrift_err() reports the first failure. Nested structs keep their own last-field-id on a
 * small stack (depth THRIFT_MAX_DEPTH). Not thread-safe; one writer per thread.
 */
#ifndef HY_THRIFT_H
#define HY_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define THRIFT_MAX_DEPTH 16

enum thrift_ctype {
    THRIFT_BOOL_TRUE = 1,
    THRIFT_BOOL_FALSE = 2,
    THRIFT_I8 = 3,
    THRIFT_I16 = 4,
    THRIFT_I32 = 5,
    THRIFT_I64 = 6,
    THRIFT_DOUBLE = 7,
    THRIFT_BINARY = 8,
    THRIFT_LIST = 9,
    THRIFT_STRUCT = 12,
};

struct thrift_w {
    struct buf *out; /* borrowed */
    int err;         /* first error, 0 while fine */
    int depth;       /* current struct nesting */
    int16_t last[THRIFT_MAX_DEPTH];
};

void thrift_init(struct thrift_w *t, struct buf *out);
int thrift_err(const struct thrift_w *t);
/* Field writers: id is the Thrift field id; ids inside one struct are written ascending. */
void thrift_i32(struct thrift_w *t, int16_t id, int32_t v);
void thrift_i64(struct thrift_w *t, int16_t id, int64_t v);
void thrift_bool(struct thrift_w *t, int16_t id, bool v);
void thrift_i8(struct thrift_w *t, int16_t id, int8_t v);
void thrift_binary(struct thrift_w *t, int16_t id, const void *p, size_t len);
void thrift_str(struct thrift_w *t, int16_t id, const char *s);
/* A struct field: thrift_struct_begin(id) ... fields ... thrift_struct_end(). */
void thrift_struct_begin(struct thrift_w *t, int16_t id);
void thrift_struct_end(struct thrift_w *t);
/* A list field of n elements of ctype; struct elements use thrift_elem_begin/thrift_struct_end. */
void thrift_list_begin(struct thrift_w *t, int16_t id, enum thrift_ctype elem, size_t n);
void thrift_elem_begin(struct thrift_w *t);
void thrift_elem_i32(struct thrift_w *t, int32_t v);
void thrift_elem_binary(struct thrift_w *t, const void *p, size_t len);
/* The stop byte of the outermost struct (a message written with no enclosing field). */
void thrift_stop(struct thrift_w *t);
/* Low-level: ULEB128 and zigzag, shared with the Parquet RLE/bit-packed encoder. */
int thrift_uvarint(struct buf *b, uint64_t v);

#endif
