#include "cgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

/* statfs f_type of cgroup2 (linux/magic.h, not on musl's include path). */
#define CGROUP2_MAGIC 0x63677270
#include <unistd.h>

int cgroup_setup(void)
{
    if (mkdir_p(CGROUP_ROOT, 0755) != 0) {
        agent_log("cannot create %s: %s", CGROUP_ROOT, strerror(errno));
        return -1;
    }
    /* A restarted agent finds it mounted already: mounting again would stack a second copy. */
    struct statfs fs;
    if ((statfs(CGROUP_ROOT, &fs) != 0 || fs.f_type != CGROUP2_MAGIC) &&
        mount("cgroup2", CGROUP_ROOT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0 && errno != EBUSY) {
        agent_log("cannot mount cgroup2 on %s: %s", CGROUP_ROOT, strerror(errno));
        return -1;
    }
    /* Each controller separately: a kernel without one still gets the others. */
    static const char *CONTROLLERS[] = {"+cpu", "+memory", "+pids"};
    for (size_t i = 0; i < sizeof(CONTROLLERS) / sizeof(CONTROLLERS[0]); i++) {
        int rc = write_file(CGROUP_ROOT "/cgroup.subtree_control", CONTROLLERS[i], 0);
        if (rc != 0)
            agent_log("cannot enable the cgroup controller %s: %s", CONTROLLERS[i] + 1, strerror(-rc));
    }
    return 0;
}

static void path_of(char *out, size_t len, const char *id, const char *file)
{
    snprintf(out, len, CGROUP_ROOT "/%s%s%s", id, file[0] ? "/" : "", file);
}

static int set_value(const char *id, const char *file, const char *value, struct agent_error *err)
{
    char path[256];
    path_of(path, sizeof(path), id, file);
    int rc = write_file(path, value, 0);
    if (rc != 0)
        return fail(err, flotilla_agent_v1_ErrorCode_SYSTEM_ERROR, "cannot write '%s' to %s: %s", value, path, strerror(-rc));
    return 0;
}

/* Checks every value first, so a refused update changes nothing. */
static int check_resources(const flotilla_agent_v1_Resources *r, struct agent_error *err)
{
    uint64_t period = r->cpu_period_us != 0 ? r->cpu_period_us : 100000;
    if (r->cpu_quota_us != 0 && (period < 1000 || period > 1000000 || r->cpu_quota_us < 1000))
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT,
                    "cpu quota %" PRIu64 " us per period %" PRIu64 " us is out of range (period 1000..1000000, quota >= 1000)",
                    r->cpu_quota_us, period);
    if (r->cpu_weight > 10000)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "cpu weight %u is out of range 1..10000", r->cpu_weight);
    return 0;
}

/*
 * Writes the limits. At creation (reset 0) a zero field is left at the kernel's default; on update (reset 1) it is
 * written back to that default, since an update states the whole set.
 */
static int apply_resources(const char *id, const flotilla_agent_v1_Resources *r, int reset, struct agent_error *err)
{
    char value[64];
    uint64_t period = r->cpu_period_us != 0 ? r->cpu_period_us : 100000;
    if (r->memory_limit_bytes != 0 || reset) {
        if (r->memory_limit_bytes != 0)
            snprintf(value, sizeof(value), "%" PRIu64, r->memory_limit_bytes);
        else
            snprintf(value, sizeof(value), "max");
        if (set_value(id, "memory.max", value, err) != 0)
            return -1;
        /* No swap in a microVM, but say so: the limit is the whole budget. */
        set_value(id, "memory.swap.max", "0", NULL);
    }
    if (r->cpu_quota_us != 0 || reset) {
        if (r->cpu_quota_us != 0)
            snprintf(value, sizeof(value), "%" PRIu64 " %" PRIu64, r->cpu_quota_us, period);
        else
            snprintf(value, sizeof(value), "max %" PRIu64, period);
        if (set_value(id, "cpu.max", value, err) != 0)
            return -1;
    }
    if (r->cpu_weight != 0 || reset) {
        snprintf(value, sizeof(value), "%u", r->cpu_weight != 0 ? r->cpu_weight : 100);
        if (set_value(id, "cpu.weight", value, err) != 0)
            return -1;
    }
    if (r->pids_limit != 0 || reset) {
        if (r->pids_limit != 0)
            snprintf(value, sizeof(value), "%u", r->pids_limit);
        else
            snprintf(value, sizeof(value), "max");
        if (set_value(id, "pids.max", value, err) != 0)
            return -1;
    }
    return 0;
}

int cgroup_create(const char *id, const flotilla_agent_v1_Resources *r, struct agent_error *err)
{
    char path[256];
    path_of(path, sizeof(path), id, "");
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return fail_errno(err, "cannot create the cgroup %s", path);
    if (r == NULL)
        return 0;
    if (check_resources(r, err) != 0)
        return -1;
    return apply_resources(id, r, 0, err);
}

int cgroup_update(const char *id, const flotilla_agent_v1_Resources *r, struct agent_error *err)
{
    if (check_resources(r, err) != 0)
        return -1;
    return apply_resources(id, r, 1, err);
}

int cgroup_enter(const char *id)
{
    char path[256];
    path_of(path, sizeof(path), id, "cgroup.procs");
    return write_file(path, "0", 0);
}

void cgroup_remove(const char *id)
{
    char path[256];
    path_of(path, sizeof(path), id, "cgroup.kill");
    write_file(path, "1", 0);
    path_of(path, sizeof(path), id, "");
    /* rmdir fails with EBUSY until the killed processes are gone: a few short retries. */
    for (int i = 0; i < 50 && rmdir(path) != 0 && errno == EBUSY; i++)
        usleep(10000);
}

uint64_t cgroup_keyed_value(const char *text, const char *key)
{
    size_t klen = strlen(key);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
            return strtoull(p + klen + 1, NULL, 10);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return 0;
}

static uint64_t read_number(const char *id, const char *file)
{
    char path[256], text[64];
    path_of(path, sizeof(path), id, file);
    if (read_file(path, text, sizeof(text)) <= 0 || strncmp(text, "max", 3) == 0)
        return 0;
    return strtoull(text, NULL, 10);
}

int cgroup_stats(const char *id, flotilla_agent_v1_Stats *out, struct agent_error *err)
{
    char path[256], text[1024];
    path_of(path, sizeof(path), id, "cpu.stat");
    if (read_file(path, text, sizeof(text)) < 0)
        return fail_errno(err, "cannot read %s", path);
    out->cpu_usage_usec = cgroup_keyed_value(text, "usage_usec");
    out->cpu_user_usec = cgroup_keyed_value(text, "user_usec");
    out->cpu_system_usec = cgroup_keyed_value(text, "system_usec");
    out->memory_current_bytes = read_number(id, "memory.current");
    out->memory_max_bytes = read_number(id, "memory.max");
    out->pids_current = read_number(id, "pids.current");
    path_of(path, sizeof(path), id, "memory.events");
    if (read_file(path, text, sizeof(text)) >= 0) {
        out->oom_events = cgroup_keyed_value(text, "oom");
        out->oom_kills = cgroup_keyed_value(text, "oom_kill");
    }
    return 0;
}

uint64_t cgroup_oom_kills(const char *id)
{
    char path[256], text[512];
    path_of(path, sizeof(path), id, "memory.events");
    if (read_file(path, text, sizeof(text)) < 0)
        return 0;
    return cgroup_keyed_value(text, "oom_kill");
}
