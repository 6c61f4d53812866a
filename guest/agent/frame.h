/*
 * Framing of the agent protocol (proto/agent.proto): a 4-byte big-endian length, then that many
 * bytes of one protobuf message. The reader is pure (no I/O) so it is unit-tested with hostile
 * byte streams; the connection code feeds it what recv() returned.
 */
#ifndef FLOTILLA_AGENT_FRAME_H
#define FLOTILLA_AGENT_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest payload either side accepts. The biggest request (CreateContainer at nanopb's bounds)
 * encodes to about 68 KiB; the cap keeps a hostile or broken peer from making us buffer more. */
#define FRAME_MAX_PAYLOAD 131072u
#define FRAME_HEADER 4u

enum frame_status {
    FRAME_NEED_MORE, /* no complete frame buffered yet */
    FRAME_READY,     /* *payload / *len point at one complete frame inside the reader */
    FRAME_EMPTY,     /* a zero-length frame: a protocol error */
    FRAME_TOO_LARGE, /* the header announces more than FRAME_MAX_PAYLOAD: a protocol error */
};

struct frame_reader {
    uint8_t buf[FRAME_HEADER + FRAME_MAX_PAYLOAD];
    size_t used;     /* bytes buffered */
    size_t consumed; /* bytes of buf already handed out as frames */
};

void frame_reader_init(struct frame_reader *r);
/* Where the next recv() may write, and how much; call frame_reader_commit(n) afterwards. Never 0
 * bytes while frames are pending: it compacts first. */
uint8_t *frame_reader_space(struct frame_reader *r, size_t *len);
void frame_reader_commit(struct frame_reader *r, size_t n);
/* The next complete frame, if any. The payload stays valid until the next space() call. */
enum frame_status frame_reader_next(struct frame_reader *r, const uint8_t **payload, size_t *len);

void frame_put_header(uint8_t out[FRAME_HEADER], uint32_t payload_len);

#endif
