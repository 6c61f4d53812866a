/* Small helpers of the guest agent: console log, error records, files, ids. */
#ifndef FLOTILLA_AGENT_UTIL_H
#define FLOTILLA_AGENT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.pb.h"

typedef flotilla_agent_v1_HostMessage HostMessage;
typedef flotilla_agent_v1_AgentMessage AgentMessage;
typedef flotilla_agent_v1_Process ProcessSpec;
typedef flotilla_agent_v1_ProcessRef ProcessRef;
typedef flotilla_agent_v1_ContainerSpec ContainerSpec;

/* Why a request failed: an ErrorCode of the protocol and a sentence for the host. */
struct agent_error {
    flotilla_agent_v1_ErrorCode code;
    char message[256];
};

/* Fills err (may be NULL) and returns -1, so callers can `return fail(...)`. */
int fail(struct agent_error *err, flotilla_agent_v1_ErrorCode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for a failed system call: appends ": strerror(errno)" and uses SYSTEM_ERROR. */
int fail_errno(struct agent_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One console line "flotilla-agent: ...". */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes all of text to path (O_WRONLY|O_TRUNC, creating it with 0644 when create). 0 or -errno. */
int write_file(const char *path, const char *text, int create);
/* Reads up to len-1 bytes of path into buf, NUL-terminated. Bytes read, or -errno. */
ssize_t read_file(const char *path, char *buf, size_t len);
/* mkdir -p with mode; 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* A container or exec id: 1..63 of [A-Za-z0-9_.-], not "." or "..". */
int valid_id(const char *id);
/* An absolute path without "..", empty components allowed. */
int valid_abs_path(const char *path);

/* "a.b.c.d/len" -> address and netmask in network byte order; 0 or -1. */
int parse_ipv4_cidr(const char *cidr, uint32_t *address, uint32_t *netmask);
/* OCI rlimit name ("RLIMIT_NOFILE") -> resource number, or -1. */
int rlimit_by_name(const char *name);

#endif
