/* cgroup v2 for containers: one cgroup per container directly under the root, limits, stats. */
#ifndef FLOTILLA_AGENT_CGROUP_H
#define FLOTILLA_AGENT_CGROUP_H

#include "util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Mounts cgroup2 and enables the cpu, memory and pids controllers for children. 0 or -1 (logged). */
int cgroup_setup(void);
/* Creates CGROUP_ROOT/<id> and applies the limits. 0 or -1 with err. */
int cgroup_create(const char *id, const flotilla_agent_v1_Resources *resources, struct agent_error *err);
/* Sets the cgroup of an existing container to these resources; zero fields reset to no limit / the default. */
int cgroup_update(const char *id, const flotilla_agent_v1_Resources *resources, struct agent_error *err);
/* Moves the calling process into the container's cgroup (used by the child before exec). */
int cgroup_enter(const char *id);
/* Kills what is left (cgroup.kill) and removes the cgroup; best effort. */
void cgroup_remove(const char *id);
int cgroup_stats(const char *id, flotilla_agent_v1_Stats *out, struct agent_error *err);
/* memory.events oom_kill counter, or 0. */
uint64_t cgroup_oom_kills(const char *id);
/* Value of "key N" in a flat-keyed cgroup file's text, or 0 when absent. */
uint64_t cgroup_keyed_value(const char *text, const char *key);

#endif
