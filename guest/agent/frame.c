#include "frame.h"

#include <string.h>

void frame_reader_init(struct frame_reader *r)
{
    r->used = 0;
    r->consumed = 0;
}

uint8_t *frame_reader_space(struct frame_reader *r, size_t *len)
{
    if (r->consumed > 0) {
        memmove(r->buf, r->buf + r->consumed, r->used - r->consumed);
        r->used -= r->consumed;
        r->consumed = 0;
    }
    *len = sizeof(r->buf) - r->used;
    return r->buf + r->used;
}

void frame_reader_commit(struct frame_reader *r, size_t n)
{
    r->used += n;
}

enum frame_status frame_reader_next(struct frame_reader *r, const uint8_t **payload, size_t *len)
{
    size_t available = r->used - r->consumed;
    if (available < FRAME_HEADER)
        return FRAME_NEED_MORE;
    const uint8_t *h = r->buf + r->consumed;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n == 0)
        return FRAME_EMPTY;
    if (n > FRAME_MAX_PAYLOAD)
        return FRAME_TOO_LARGE;
    if (available < FRAME_HEADER + n)
        return FRAME_NEED_MORE;
    *payload = h + FRAME_HEADER;
    *len = n;
    r->consumed += FRAME_HEADER + n;
    return FRAME_READY;
}

void frame_put_header(uint8_t out[FRAME_HEADER], uint32_t payload_len)
{
    out[0] = (uint8_t)(payload_len >> 24);
    out[1] = (uint8_t)(payload_len >> 16);
    out[2] = (uint8_t)(payload_len >> 8);
    out[3] = (uint8_t)payload_len;
}
