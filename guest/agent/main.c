/*
 * flotilla-agent: the guest side of Flotilla's sandbox runtime.
 *
 * Started (and restarted if it dies) by flotilla-init when the kernel command line says
 * flotilla.exit=agent. It brings up loopback, mounts cgroup2, then serves the protocol of
 * proto/agent.proto on AF_VSOCK port AGENT_VSOCK_PORT (1024) of the guest: one single-threaded
 * epoll loop over the listening socket, up to MAX_CONNECTIONS host connections, a signalfd for
 * SIGCHLD (exits of container processes), the processes' output pipes and an inotify fd on the
 * containers' memory.events (OOM events).
 */
#include "cgroup.h"
#include "container.h"
#include "frame.h"
#include "net.h"
#include "util.h"

#include <pb_decode.h>
#include <pb_encode.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define AGENT_VSOCK_PORT 1024

/* <linux/vm_sockets.h> is not on musl's include path; AF_VSOCK and this layout are fixed ABI. */
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define VMADDR_CID_ANY 0xffffffffu
struct sockaddr_vm {
    sa_family_t svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port;
    unsigned int svm_cid;
    unsigned char svm_zero[4];
};
#define PROTOCOL_VERSION 1
#define AGENT_VERSION "0.1.0"
#define MAX_CONNECTIONS 8
/* A host that stops reading for this long is dropped instead of stalling every container. */
#define SEND_TIMEOUT_SECONDS 10

#define TAG_LISTEN 1u
#define TAG_SIGNAL 2u
#define TAG_INOTIFY 3u
#define TAG_CONNECTION 0x100u /* | slot */

struct connection {
    int fd; /* -1 = free */
    uint32_t handle;
    int greeted;
    int closing;
    struct frame_reader reader;
};

static struct connection connections[MAX_CONNECTIONS];
static uint32_t next_handle = 1;
static int epoll_fd = -1;
static HostMessage request;
static AgentMessage reply;
static uint8_t out_frame[FRAME_HEADER + flotilla_agent_v1_AgentMessage_size];

void loop_watch(int fd, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)
        agent_log("epoll_ctl add fd %d: %s", fd, strerror(errno));
}

void loop_unwatch(int fd)
{
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

static struct connection *connection_by_handle(uint32_t handle)
{
    for (int i = 0; i < MAX_CONNECTIONS; i++)
        if (connections[i].fd >= 0 && connections[i].handle == handle && !connections[i].closing)
            return &connections[i];
    return NULL;
}

void conn_send(uint32_t handle, const AgentMessage *msg)
{
    struct connection *c = handle != 0 ? connection_by_handle(handle) : NULL;
    if (c == NULL)
        return;
    pb_ostream_t os = pb_ostream_from_buffer(out_frame + FRAME_HEADER, sizeof(out_frame) - FRAME_HEADER);
    if (!pb_encode(&os, flotilla_agent_v1_AgentMessage_fields, msg)) {
        agent_log("cannot encode a reply: %s", PB_GET_ERROR(&os));
        return;
    }
    frame_put_header(out_frame, (uint32_t)os.bytes_written);
    size_t len = FRAME_HEADER + os.bytes_written, done = 0;
    while (done < len) {
        ssize_t n = send(c->fd, out_frame + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            agent_log("connection %u: send failed (%s); dropping it", c->handle, n < 0 ? strerror(errno) : "closed");
            c->closing = 1;
            return;
        }
        done += (size_t)n;
    }
}

static void close_connection(struct connection *c)
{
    loop_unwatch(c->fd);
    close(c->fd);
    c->fd = -1;
    connection_gone(c->handle);
    agent_log("connection %u closed", c->handle);
}

static void reply_error(const struct agent_error *err)
{
    reply.which_body = flotilla_agent_v1_AgentMessage_error_tag;
    reply.body.error.code = err->code;
    snprintf(reply.body.error.message, sizeof(reply.body.error.message), "%s", err->message);
}

__attribute__((noreturn)) static void shut_down(void)
{
    agent_log("shutting down: stopping containers, rebooting the guest (the VM ends)");
    containers_kill_all();
    sync();
    /* Give the vsock transport a moment to carry the Ok to the host. */
    usleep(100000);
    reboot(RB_AUTOBOOT);
    agent_log("reboot failed: %s", strerror(errno));
    _exit(1);
}

/* Serves one decoded request; fills `reply` unless the answer is deferred (returns 0 then). */
static int serve(struct connection *c)
{
    struct agent_error err = {0};
    int rc = 0, shutdown_after = 0;
    memset(&reply, 0, sizeof(reply));
    reply.id = request.id;
    reply.which_body = flotilla_agent_v1_AgentMessage_ok_tag;

    if (request.id == 0) {
        rc = fail(&err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "request id 0 is reserved for events");
    } else if (!c->greeted && request.which_request != flotilla_agent_v1_HostMessage_hello_tag) {
        rc = fail(&err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "the first request on a connection must be Hello");
    } else {
        switch (request.which_request) {
        case flotilla_agent_v1_HostMessage_hello_tag: {
            uint32_t wanted = request.request.hello.protocol_version;
            if (wanted != PROTOCOL_VERSION) {
                rc = fail(&err, flotilla_agent_v1_ErrorCode_UNSUPPORTED_VERSION,
                          "the agent speaks protocol version %d, the host asked for version %u", PROTOCOL_VERSION, wanted);
                c->closing = 1;
                break;
            }
            c->greeted = 1;
            agent_log("connection %u: hello from '%s'", c->handle, request.request.hello.client);
            reply.which_body = flotilla_agent_v1_AgentMessage_hello_tag;
            reply.body.hello.protocol_version = PROTOCOL_VERSION;
            snprintf(reply.body.hello.agent_version, sizeof(reply.body.hello.agent_version), "%s", AGENT_VERSION);
            break;
        }
        case flotilla_agent_v1_HostMessage_create_sandbox_tag:
            rc = sandbox_configure(&request.request.create_sandbox, &err);
            break;
        case flotilla_agent_v1_HostMessage_create_container_tag:
            reply.which_body = flotilla_agent_v1_AgentMessage_started_tag;
            rc = container_create(&request.request.create_container, c->handle, &reply.body.started.pid, &err);
            break;
        case flotilla_agent_v1_HostMessage_start_container_tag:
            rc = container_start(request.request.start_container.container_id, &err);
            break;
        case flotilla_agent_v1_HostMessage_exec_process_tag:
            reply.which_body = flotilla_agent_v1_AgentMessage_started_tag;
            rc = process_exec(&request.request.exec_process, c->handle, &reply.body.started.pid, &err);
            break;
        case flotilla_agent_v1_HostMessage_wait_process_tag: {
            reply.which_body = flotilla_agent_v1_AgentMessage_exit_tag;
            int done = process_wait(&request.request.wait_process.process, c->handle, request.id, &reply.body.exit, &err);
            if (done == 0)
                return 0;
            rc = done < 0 ? -1 : 0;
            break;
        }
        case flotilla_agent_v1_HostMessage_signal_process_tag:
            rc = process_signal(&request.request.signal_process.process, request.request.signal_process.signal, &err);
            break;
        case flotilla_agent_v1_HostMessage_write_stdin_tag:
            rc = process_write_stdin(&request.request.write_stdin.process, request.request.write_stdin.data.bytes,
                                     request.request.write_stdin.data.size, &err);
            break;
        case flotilla_agent_v1_HostMessage_close_stdin_tag:
            rc = process_close_stdin(&request.request.close_stdin.process, &err);
            break;
        case flotilla_agent_v1_HostMessage_resize_tty_tag:
            rc = process_resize_tty(&request.request.resize_tty.process, request.request.resize_tty.rows, request.request.resize_tty.cols, &err);
            break;
        case flotilla_agent_v1_HostMessage_get_stats_tag:
            reply.which_body = flotilla_agent_v1_AgentMessage_stats_tag;
            rc = container_stats(request.request.get_stats.container_id, &reply.body.stats, &err);
            break;
        case flotilla_agent_v1_HostMessage_delete_container_tag:
            rc = container_delete(request.request.delete_container.container_id, &err);
            break;
        case flotilla_agent_v1_HostMessage_update_resources_tag: {
            flotilla_agent_v1_Resources none = flotilla_agent_v1_Resources_init_zero;
            const flotilla_agent_v1_UpdateResources *update = &request.request.update_resources;
            rc = container_update(update->container_id, update->has_resources ? &update->resources : &none, &err);
            break;
        }
        case flotilla_agent_v1_HostMessage_shutdown_tag:
            shutdown_after = 1;
            break;
        default:
            rc = fail(&err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "request kind %u is unknown to this agent", request.which_request);
        }
    }
    if (rc != 0)
        reply_error(&err);
    conn_send(c->handle, &reply);
    if (shutdown_after)
        shut_down();
    return 1;
}

static void on_readable(struct connection *c)
{
    size_t space;
    uint8_t *buf = frame_reader_space(&c->reader, &space);
    ssize_t n = recv(c->fd, buf, space, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        c->closing = 1;
        return;
    }
    frame_reader_commit(&c->reader, (size_t)n);
    const uint8_t *payload;
    size_t len;
    for (;;) {
        enum frame_status st = frame_reader_next(&c->reader, &payload, &len);
        if (st == FRAME_NEED_MORE)
            return;
        if (st != FRAME_READY) {
            agent_log("connection %u: %s; closing it", c->handle,
                      st == FRAME_EMPTY ? "empty frame" : "frame longer than the protocol's maximum");
            c->closing = 1;
            return;
        }
        pb_istream_t is = pb_istream_from_buffer(payload, len);
        if (!pb_decode(&is, flotilla_agent_v1_HostMessage_fields, &request)) {
            agent_log("connection %u: undecodable request (%s); closing it", c->handle, PB_GET_ERROR(&is));
            c->closing = 1;
            return;
        }
        serve(c);
        if (c->closing)
            return;
    }
}

static int listen_vsock(void)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        agent_log("socket(AF_VSOCK): %s (does the VM have a vsock device?)", strerror(errno));
        return -1;
    }
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_port = AGENT_VSOCK_PORT, .svm_cid = VMADDR_CID_ANY};
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, MAX_CONNECTIONS) != 0) {
        agent_log("cannot listen on vsock port %d: %s", AGENT_VSOCK_PORT, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void accept_connection(int listen_fd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct connection *c = NULL;
    for (int i = 0; i < MAX_CONNECTIONS && c == NULL; i++)
        if (connections[i].fd < 0)
            c = &connections[i];
    if (c == NULL) {
        agent_log("refusing a connection: already %d open", MAX_CONNECTIONS);
        close(fd);
        return;
    }
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->fd = fd;
    c->handle = next_handle++;
    c->greeted = 0;
    c->closing = 0;
    frame_reader_init(&c->reader);
    loop_watch(fd, TAG_CONNECTION | (uint32_t)(c - connections));
    agent_log("connection %u accepted", c->handle);
}

int main(void)
{
    for (int i = 0; i < MAX_CONNECTIONS; i++)
        connections[i].fd = -1;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct agent_error err;
    if (net_loopback_up(&err) != 0)
        agent_log("loopback: %s", err.message);
    cgroup_setup();
    int inotify = containers_init();

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    int lfd = listen_vsock();
    if (epoll_fd < 0 || sfd < 0 || lfd < 0) {
        agent_log("cannot start (epoll %d, signalfd %d, vsock %d)", epoll_fd, sfd, lfd);
        return 1;
    }
    loop_watch(lfd, TAG_LISTEN);
    loop_watch(sfd, TAG_SIGNAL);
    if (inotify >= 0)
        loop_watch(inotify, TAG_INOTIFY);
    agent_log("listening on vsock port %d (protocol version %d)", AGENT_VSOCK_PORT, PROTOCOL_VERSION);

    struct epoll_event events[32];
    for (;;) {
        int n = epoll_wait(epoll_fd, events, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            agent_log("epoll_wait: %s", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            uint32_t tag = (uint32_t)events[i].data.u64;
            if (tag == TAG_LISTEN) {
                accept_connection(lfd);
            } else if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof(si)) == sizeof(si))
                    ;
                processes_reap();
            } else if (tag == TAG_INOTIFY) {
                containers_check_oom(inotify);
            } else if (tag & TAG_OUTPUT) {
                process_output_ready(tag);
            } else if ((tag & ~0xffu) == TAG_CONNECTION) {
                struct connection *c = &connections[tag & 0xffu];
                if (c->fd >= 0 && !c->closing)
                    on_readable(c);
            }
        }
        for (int i = 0; i < MAX_CONNECTIONS; i++)
            if (connections[i].fd >= 0 && connections[i].closing)
                close_connection(&connections[i]);
    }
}
