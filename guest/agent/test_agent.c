/*
 * Host-side unit tests of the guest agent's pure parts (run by guest/test.sh): framing against
 * hostile byte streams, the nanopb codec (round trip through Debian's runtime library, random
 * bytes never crash the decoder), and the validators of ids, paths, addresses and rlimits.
 */
#include "cgroup.h"
#include "frame.h"
#include "util.h"

#include <pb_decode.h>
#include <pb_encode.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <errno.h>

static int failures;

#define CHECK(cond, name)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("PASS agent: %s\n", name);                                                      \
        } else {                                                                                   \
            printf("FAIL agent: %s\n", name);                                                      \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static struct frame_reader reader;

static void feed(const uint8_t *bytes, size_t len)
{
    size_t space;
    uint8_t *dst = frame_reader_space(&reader, &space);
    memcpy(dst, bytes, len);
    frame_reader_commit(&reader, len);
}

static void test_frames(void)
{
    const uint8_t *payload;
    size_t len;

    frame_reader_init(&reader);
    uint8_t two[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'z'};
    feed(two, sizeof(two));
    int ok = frame_reader_next(&reader, &payload, &len) == FRAME_READY && len == 3 && memcmp(payload, "abc", 3) == 0;
    ok = ok && frame_reader_next(&reader, &payload, &len) == FRAME_READY && len == 1 && payload[0] == 'z';
    ok = ok && frame_reader_next(&reader, &payload, &len) == FRAME_NEED_MORE;
    CHECK(ok, "frame_twoFramesInOneRead_bothReturned");

    frame_reader_init(&reader);
    int ready = 0;
    for (size_t i = 0; i < sizeof(two); i++) {
        feed(two + i, 1);
        while (frame_reader_next(&reader, &payload, &len) == FRAME_READY)
            ready++;
    }
    CHECK(ready == 2, "frame_oneByteAtATime_reassembled");

    frame_reader_init(&reader);
    uint8_t empty[] = {0, 0, 0, 0};
    feed(empty, 4);
    CHECK(frame_reader_next(&reader, &payload, &len) == FRAME_EMPTY, "frame_zeroLength_rejected");

    frame_reader_init(&reader);
    uint8_t huge[4];
    frame_put_header(huge, FRAME_MAX_PAYLOAD + 1);
    feed(huge, 4);
    CHECK(frame_reader_next(&reader, &payload, &len) == FRAME_TOO_LARGE, "frame_overMaximum_rejectedBeforeBuffering");

    frame_reader_init(&reader);
    uint8_t all_ones[] = {0xff, 0xff, 0xff, 0xff};
    feed(all_ones, 4);
    CHECK(frame_reader_next(&reader, &payload, &len) == FRAME_TOO_LARGE, "frame_lengthFFFFFFFF_rejected");

    /* A maximum-size frame fits exactly in the reader's buffer. */
    frame_reader_init(&reader);
    size_t space;
    uint8_t *dst = frame_reader_space(&reader, &space);
    int fits = space == FRAME_HEADER + FRAME_MAX_PAYLOAD;
    frame_put_header(dst, FRAME_MAX_PAYLOAD);
    memset(dst + FRAME_HEADER, 7, FRAME_MAX_PAYLOAD);
    frame_reader_commit(&reader, FRAME_HEADER + FRAME_MAX_PAYLOAD);
    CHECK(fits && frame_reader_next(&reader, &payload, &len) == FRAME_READY && len == FRAME_MAX_PAYLOAD,
          "frame_maximumPayload_accepted");

    /* After a frame is consumed, space() compacts the partial next frame to the front. */
    frame_reader_init(&reader);
    uint8_t partial[] = {0, 0, 0, 2, 'h', 'i', 0, 0, 0, 4, 'a'};
    feed(partial, sizeof(partial));
    frame_reader_next(&reader, &payload, &len);
    frame_reader_next(&reader, &payload, &len);
    feed((const uint8_t *)"bcd", 3);
    CHECK(frame_reader_next(&reader, &payload, &len) == FRAME_READY && len == 4 && memcmp(payload, "abcd", 4) == 0,
          "frame_partialAfterConsumed_compactedAndCompleted");
}

static HostMessage in, out;
static uint8_t encoded[FRAME_MAX_PAYLOAD];

static void test_codec(void)
{
    memset(&in, 0, sizeof(in));
    in.id = 0x123456789aULL;
    in.which_request = flotilla_agent_v1_HostMessage_create_container_tag;
    flotilla_agent_v1_CreateContainer *cc = &in.request.create_container;
    strcpy(cc->container_id, "web-1");
    cc->has_spec = true;
    cc->spec.has_process = true;
    cc->spec.process.args_count = 48;
    for (int i = 0; i < 48; i++)
        memset(cc->spec.process.args[i], 'a' + i % 26, 255);
    cc->spec.process.env_count = 48;
    for (int i = 0; i < 48; i++) {
        memset(cc->spec.process.env[i], 'E', 383);
        cc->spec.process.env[i][1] = '=';
    }
    cc->spec.process.uid = 1000;
    cc->spec.process.rlimits_count = 1;
    strcpy(cc->spec.process.rlimits[0].type, "RLIMIT_NOFILE");
    cc->spec.process.rlimits[0].soft = 1024;
    cc->spec.process.rlimits[0].hard = UINT64_MAX;
    cc->spec.has_root = true;
    strcpy(cc->spec.root.device, "/dev/vdb");
    strcpy(cc->spec.root.fs_type, "ext4");
    cc->spec.mounts_count = 12;
    for (int i = 0; i < 12; i++) {
        snprintf(cc->spec.mounts[i].destination, 256, "/m%d", i);
        strcpy(cc->spec.mounts[i].type, "tmpfs");
        cc->spec.mounts[i].options_count = 6;
    }
    cc->spec.has_namespaces = true;
    cc->spec.namespaces.pid = true;
    cc->spec.has_resources = true;
    cc->spec.resources.memory_limit_bytes = 64ull << 20;

    pb_ostream_t os = pb_ostream_from_buffer(encoded, sizeof(encoded));
    int enc = pb_encode(&os, flotilla_agent_v1_HostMessage_fields, &in);
    pb_istream_t is = pb_istream_from_buffer(encoded, os.bytes_written);
    int dec = enc && pb_decode(&is, flotilla_agent_v1_HostMessage_fields, &out);
    const flotilla_agent_v1_CreateContainer *oc = &out.request.create_container;
    CHECK(dec && out.id == in.id && out.which_request == in.which_request && strcmp(oc->container_id, "web-1") == 0 &&
              oc->spec.process.args_count == 48 && memcmp(oc->spec.process.args[47], cc->spec.process.args[47], 256) == 0 &&
              oc->spec.process.env_count == 48 && oc->spec.process.rlimits[0].hard == UINT64_MAX && oc->spec.mounts_count == 12 &&
              strcmp(oc->spec.mounts[11].destination, "/m11") == 0 && oc->spec.namespaces.pid && !oc->spec.namespaces.uts &&
              oc->spec.resources.memory_limit_bytes == (64ull << 20),
          "codec_largestCreateContainer_roundTripsThroughDebianRuntime");
    CHECK(enc && os.bytes_written <= FRAME_MAX_PAYLOAD && os.bytes_written <= flotilla_agent_v1_HostMessage_size,
          "codec_largestRequest_fitsOneFrame");

    /* 49 args: one more than the agent's bound must be refused by the decoder, not overflow. */
    uint8_t tag_arg = (1 << 3) | 2; /* Process.args, length-delimited */
    uint8_t msg[2048];
    size_t n = 0;
    for (int i = 0; i < 49; i++) {
        msg[n++] = tag_arg;
        msg[n++] = 1;
        msg[n++] = 'x';
    }
    flotilla_agent_v1_Process process;
    pb_istream_t too_many = pb_istream_from_buffer(msg, n);
    CHECK(!pb_decode(&too_many, flotilla_agent_v1_Process_fields, &process), "codec_moreArgsThanBound_rejected");

    uint8_t long_string[300];
    long_string[0] = tag_arg;
    long_string[1] = 0x80 | (290 & 0x7f);
    long_string[2] = 290 >> 7;
    memset(long_string + 3, 'y', 290);
    pb_istream_t too_long = pb_istream_from_buffer(long_string, 293);
    CHECK(!pb_decode(&too_long, flotilla_agent_v1_Process_fields, &process), "codec_argLongerThanBound_rejected");

    /* Random bytes: the decoder may accept or refuse, but must never crash or read past the end. */
    srand(42);
    int survived = 1;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand() % 200);
        for (size_t i = 0; i < len; i++)
            encoded[i] = (uint8_t)rand();
        pb_istream_t r = pb_istream_from_buffer(encoded, len);
        (void)pb_decode(&r, flotilla_agent_v1_HostMessage_fields, &out);
        if (r.bytes_left > len)
            survived = 0;
    }
    CHECK(survived, "codec_randomBytes_neverCrash");

    /* Flipping each byte of a valid message: same property on structured input. */
    memset(&in, 0, sizeof(in));
    in.id = 7;
    in.which_request = flotilla_agent_v1_HostMessage_exec_process_tag;
    strcpy(in.request.exec_process.container_id, "c");
    strcpy(in.request.exec_process.exec_id, "e");
    in.request.exec_process.has_process = true;
    in.request.exec_process.process.args_count = 2;
    strcpy(in.request.exec_process.process.args[0], "sh");
    strcpy(in.request.exec_process.process.args[1], "-c");
    os = pb_ostream_from_buffer(encoded, sizeof(encoded));
    pb_encode(&os, flotilla_agent_v1_HostMessage_fields, &in);
    uint8_t mutated[256];
    for (size_t i = 0; i < os.bytes_written && i < sizeof(mutated); i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(mutated, encoded, os.bytes_written);
            mutated[i] ^= (uint8_t)(1 << bit);
            pb_istream_t r = pb_istream_from_buffer(mutated, os.bytes_written);
            (void)pb_decode(&r, flotilla_agent_v1_HostMessage_fields, &out);
        }
    }
    CHECK(1, "codec_bitFlippedRequests_neverCrash");
}

static void test_validators(void)
{
    CHECK(valid_id("web-1_a.b") && !valid_id("") && !valid_id("..") && !valid_id("a/b") && !valid_id("a b"),
          "id_allowedCharactersOnly");
    char long_id[80];
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    CHECK(!valid_id(long_id), "id_over63Characters_rejected");
    CHECK(valid_abs_path("/var/lib/x") && valid_abs_path("/a/..b/c") && !valid_abs_path("relative") && !valid_abs_path("/a/../etc") &&
              !valid_abs_path("/.."),
          "path_dotDotComponent_rejected");

    uint32_t addr, mask;
    CHECK(parse_ipv4_cidr("10.0.2.15/24", &addr, &mask) == 0 && addr == inet_addr("10.0.2.15") && mask == inet_addr("255.255.255.0"),
          "cidr_addressAndPrefix_parsed");
    CHECK(parse_ipv4_cidr("10.0.2.15", &addr, &mask) == 0 && mask == 0xffffffffu, "cidr_noPrefix_isHost");
    CHECK(parse_ipv4_cidr("10.0.2.15/33", &addr, &mask) != 0 && parse_ipv4_cidr("10.0.2/24", &addr, &mask) != 0 &&
              parse_ipv4_cidr("10.0.2.15/", &addr, &mask) != 0 && parse_ipv4_cidr("", &addr, &mask) != 0,
          "cidr_malformed_rejected");
    CHECK(rlimit_by_name("RLIMIT_NOFILE") == RLIMIT_NOFILE && rlimit_by_name("RLIMIT_BOGUS") == -1 && rlimit_by_name("nofile") == -1,
          "rlimit_ociNames_mapped");

    const char *events = "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n";
    CHECK(cgroup_keyed_value(events, "oom") == 2 && cgroup_keyed_value(events, "oom_kill") == 1 && cgroup_keyed_value(events, "none") == 0,
          "cgroup_keyedFile_exactKeyMatched");

    struct agent_error err;
    errno = ENOENT;
    fail_errno(&err, "cannot open %s", "/x");
    CHECK(err.code == flotilla_agent_v1_ErrorCode_SYSTEM_ERROR && strcmp(err.message, "cannot open /x: No such file or directory") == 0,
          "error_systemCall_namesCallAndErrno");
}

int main(void)
{
    test_frames();
    test_codec();
    test_validators();
    return failures == 0 ? 0 : 1;
}
