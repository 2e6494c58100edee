/*
 * api_err: building AWS error answers. Validation errors follow Coral's format, which the AWS
 * JSON services share:
 *     1 validation error detected: Value 'x' at 'deliveryStreamName' failed to satisfy
 *     constraint: Member must have length less than or equal to 64
 *     2 validation errors detected: <error>; <error>
 */
#include <stdio.h>

#include "api/api_int.h"
#include "base/err.h"

#define API_ERR_MSG_MAX (64u << 10)

void api_err_init(struct api_err *e)
{
    e->status = 0;
    e->type = NULL;
    e->nvalid = 0;
    buf_init(&e->msg, API_ERR_MSG_MAX);
    buf_init(&e->items, API_ERR_MSG_MAX);
}

void api_err_fini(struct api_err *e)
{
    buf_fini(&e->msg);
    buf_fini(&e->items);
}

void api_err_set(struct api_err *e, int status, const char *type, const char *fmt, ...)
{
    if (e->type)
        return;
    e->status = status;
    e->type = type;
    buf_reset(&e->msg);
    va_list ap;
    va_start(ap, fmt);
    /* A message that does not fit is cut; the type still tells the client what happened. */
    buf_vprintf(&e->msg, fmt, ap);
    va_end(ap);
}

void api_err_validation(struct api_err *e, const char *value, size_t value_len, const char *path,
                        const char *constraint)
{
    /* Keep error answers bounded even for a 1 MB value. */
    if (value_len > 1024)
        value_len = 1024;
    if (e->nvalid)
        buf_append_str(&e->items, "; ");
    buf_append_str(&e->items, "Value ");
    buf_append(&e->items, value, value_len);
    buf_printf(&e->items, " at '%s' failed to satisfy constraint: %s", path, constraint);
    e->nvalid++;
}

int api_err_done(struct api_err *e)
{
    if (e->type)
        return 1;
    if (!e->nvalid)
        return 0;
    e->status = API_ERR_BAD_REQUEST;
    e->type = "ValidationException";
    buf_reset(&e->msg);
    buf_printf(&e->msg, "%d validation error%s detected: ", e->nvalid, e->nvalid == 1 ? "" : "s");
    buf_append(&e->msg, e->items.data, e->items.len);
    return 1;
}
