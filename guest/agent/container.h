/*
 * Containers and their processes: create (namespaces, rootfs, cgroup; the process waits before
 * exec), start, exec into a running container, wait, signal, stdin/stdout/stderr, tty, stats,
 * OOM events, delete. Processes are children of the agent; main.c's loop calls back into here
 * for SIGCHLD, output readiness and cgroup notifications.
 */
#ifndef FLOTILLA_AGENT_CONTAINER_H
#define FLOTILLA_AGENT_CONTAINER_H

#include "util.h"

/* Where a container's image, writable layer and root are mounted (inside its mount namespace). */
#define CONTAINERS_DIR "/run/flotilla/containers"

/* Tags main.c gives output fds in its epoll set: TAG_OUTPUT | process slot << 1 | stream. */
#define TAG_OUTPUT 0x10000u

/* Prepares the directories and returns the inotify fd the loop watches for OOM events (or -1). */
int containers_init(void);

int container_create(const flotilla_agent_v1_CreateContainer *req, uint32_t conn, int32_t *pid, struct agent_error *err);
int container_start(const char *id, struct agent_error *err);
int process_exec(const flotilla_agent_v1_ExecProcess *req, uint32_t conn, int32_t *pid, struct agent_error *err);
/* 1 with *status filled when it already exited, 0 when the answer is deferred (sent to conn with
 * request_id once it exits), -1 on error. */
int process_wait(const ProcessRef *ref, uint32_t conn, uint64_t request_id, flotilla_agent_v1_ExitStatus *status,
                 struct agent_error *err);
int process_signal(const ProcessRef *ref, int signal, struct agent_error *err);
int process_write_stdin(const ProcessRef *ref, const uint8_t *data, size_t len, struct agent_error *err);
int process_close_stdin(const ProcessRef *ref, struct agent_error *err);
int process_resize_tty(const ProcessRef *ref, uint32_t rows, uint32_t cols, struct agent_error *err);
int container_stats(const char *id, flotilla_agent_v1_Stats *stats, struct agent_error *err);
int container_delete(const char *id, struct agent_error *err);
/* New cgroup limits for a container (any state but deleted). */
int container_update(const char *id, const flotilla_agent_v1_Resources *resources, struct agent_error *err);

/* Loop callbacks. */
void processes_reap(void);
void process_output_ready(uint32_t tag);
void containers_check_oom(int inotify_fd);
void connection_gone(uint32_t conn);
void containers_kill_all(void);

/* Provided by main.c. */
void loop_watch(int fd, uint32_t tag);
void loop_unwatch(int fd);
/* Sends msg on connection conn (its handle); a gone connection drops it. */
void conn_send(uint32_t conn, const AgentMessage *msg);

#endif
