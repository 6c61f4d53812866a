#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int fail(struct agent_error *err, flotilla_agent_v1_ErrorCode code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return -1;
}

int fail_errno(struct agent_error *err, const char *fmt, ...)
{
    int saved = errno;
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        err->code = flotilla_agent_v1_ErrorCode_SYSTEM_ERROR;
        int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(err->message))
            snprintf(err->message + n, sizeof(err->message) - (size_t)n, ": %s", strerror(saved));
    }
    errno = saved;
    return -1;
}

void agent_log(const char *fmt, ...)
{
    /* One write per line, so lines from the agent and its children never interleave mid-line. */
    char line[512];
    int n = snprintf(line, sizeof(line), "flotilla-agent: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

int write_file(const char *path, const char *text, int create)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            return -saved;
        }
        done += (size_t)n;
    }
    return close(fd) == 0 ? 0 : -errno;
}

ssize_t read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t total = 0;
    while (total < len - 1) {
        ssize_t n = read(fd, buf + total, len - 1 - total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            return -saved;
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    close(fd);
    buf[total] = '\0';
    return (ssize_t)total;
}

int mkdir_p(const char *path, mode_t mode)
{
    char tmp[512];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int valid_id(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > 63 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return 0;
    for (const char *p = id; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int valid_abs_path(const char *path)
{
    if (path[0] != '/')
        return 0;
    /* Reject any ".." component: a container's paths are resolved from its root by the agent
     * before pivot_root, where ".." could climb out of the rootfs. */
    const char *p = path;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != '/')
            p++;
        if (p - start == 2 && start[0] == '.' && start[1] == '.')
            return 0;
    }
    return 1;
}

int parse_ipv4_cidr(const char *cidr, uint32_t *address, uint32_t *netmask)
{
    char buf[32];
    size_t len = strlen(cidr);
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, cidr, len + 1);
    char *slash = strchr(buf, '/');
    long prefix = 32;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        errno = 0;
        prefix = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || errno != 0 || prefix < 0 || prefix > 32)
            return -1;
    }
    struct in_addr in;
    if (inet_pton(AF_INET, buf, &in) != 1)
        return -1;
    *address = in.s_addr;
    *netmask = prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
    return 0;
}

static const struct {
    const char *name;
    int resource;
} RLIMITS[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int rlimit_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(RLIMITS) / sizeof(RLIMITS[0]); i++)
        if (strcmp(RLIMITS[i].name, name) == 0)
            return RLIMITS[i].resource;
    return -1;
}
