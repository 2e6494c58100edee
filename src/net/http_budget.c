/*
 * http_budget: the read-buffer pools of one event loop (contract in http_int.h). Pure
 * arithmetic over counters; the queues and evictions that use it live in http.c.
 */
#include "net/http_int.h"

#include "base/hyassert.h"

#include <stdint.h>

void http_budget_init(struct http_budget *b, size_t max_buffered_bytes)
{
    b->head_limit = max_buffered_bytes / 4;
    b->grow_limit = b->head_limit / 2;
    b->body_limit = max_buffered_bytes - b->head_limit;
    b->head_bytes = 0;
    b->body_bytes = 0;
}

bool http_budget_head_fits(const struct http_budget *b, size_t held, size_t delta, bool first)
{
    HY_ASSERT(held <= b->head_bytes);
    /* Alone in the pool: always allowed, so a budget smaller than one head cannot deadlock. */
    if (b->head_bytes == held)
        return true;
    size_t limit = first ? b->head_limit : b->grow_limit;
    return b->head_bytes <= limit && delta <= limit - b->head_bytes;
}

size_t http_budget_need(const struct http_parser *p, size_t head_cap, size_t room)
{
    if (p->stage == HTTP_PARSE_BODY_CHUNKED)
        return room; /* the size is unknown: reserve the largest request once, not in steps */
    HY_ASSERT(p->stage == HTTP_PARSE_BODY_LENGTH);
    /* The parser bounds content_length by max_body_bytes, but that may be SIZE_MAX. */
    if (p->content_length > SIZE_MAX - p->head_len)
        return room;
    size_t total = p->head_len + p->content_length;
    return total <= head_cap ? 0 : total;
}

bool http_budget_body_fits(const struct http_budget *b, size_t need)
{
    if (b->body_bytes == 0)
        return true; /* progress: the front request is admitted when it is alone */
    return b->body_bytes <= b->body_limit && need <= b->body_limit - b->body_bytes;
}

size_t http_budget_body_take(struct http_budget *b, size_t need)
{
    /* A request larger than the pool is charged the whole pool: it is admitted alone. */
    size_t charge = need < b->body_limit ? need : b->body_limit;
    b->body_bytes += charge;
    return charge;
}

void http_budget_body_put(struct http_budget *b, size_t charge)
{
    HY_ASSERT(charge <= b->body_bytes);
    b->body_bytes -= charge;
}
