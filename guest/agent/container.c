#include "container.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_CONTAINERS 32
#define MAX_PROCESSES 128
#define MAX_WAITERS 8
/* How long create/exec wait for the new process to report that its set-up is done (or failed):
 * mounting an image is the slow part; a hung device must not hang the agent forever. */
#define SETUP_TIMEOUT_MS 20000
/* How long a WriteStdin may wait for a process that does not read its stdin. */
#define STDIN_TIMEOUT_MS 5000

struct waiter {
    uint32_t conn;
    uint64_t request_id;
};

struct process {
    int used;
    int container; /* slot */
    char exec_id[64]; /* empty for the container's own process */
    pid_t pid;
    int stdin_fd;
    int out_fd[2]; /* stdout, stderr; a tty's master is out_fd[0] */
    int tty_fd;    /* the pty master (for resize), or -1 */
    uint32_t owner;
    int exited;
    flotilla_agent_v1_ExitStatus status;
    struct waiter waiters[MAX_WAITERS];
    int waiter_count;
};

enum container_state { CREATED, RUNNING, STOPPED };

struct container {
    int used;
    char id[64];
    enum container_state state;
    int process; /* slot of its own process */
    int start_fd; /* write end of the start pipe while CREATED */
    int shares_pid_ns, has_uts_ns, has_ipc_ns;
    int oom_wd;
    uint64_t oom_kills;
};

static struct container containers[MAX_CONTAINERS];
static struct process processes[MAX_PROCESSES];
static int inotify_fd = -1;
static int own_pid_ns = -1;
/* Events are built here (the request being served uses main.c's message). */
static AgentMessage event;

static const char *state_name(enum container_state s)
{
    return s == CREATED ? "created" : s == RUNNING ? "running" : "stopped";
}

int containers_init(void)
{
    int rc = mkdir_p(CONTAINERS_DIR, 0700);
    if (rc != 0)
        agent_log("cannot create %s: %s", CONTAINERS_DIR, strerror(-rc));
    own_pid_ns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd < 0)
        agent_log("inotify_init1 failed (no OOM events): %s", strerror(errno));
    return inotify_fd;
}

static int find_container(const char *id)
{
    for (int i = 0; i < MAX_CONTAINERS; i++)
        if (containers[i].used && strcmp(containers[i].id, id) == 0)
            return i;
    return -1;
}

static int find_process(const ProcessRef *ref, struct agent_error *err)
{
    int c = find_container(ref->container_id);
    if (c < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "no container '%s'", ref->container_id);
    if (ref->exec_id[0] == '\0')
        return containers[c].process;
    for (int i = 0; i < MAX_PROCESSES; i++)
        if (processes[i].used && processes[i].container == c && strcmp(processes[i].exec_id, ref->exec_id) == 0)
            return i;
    return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "container '%s' has no exec '%s'", ref->container_id, ref->exec_id);
}

static void set_ref(ProcessRef *ref, const struct process *p)
{
    snprintf(ref->container_id, sizeof(ref->container_id), "%s", containers[p->container].id);
    snprintf(ref->exec_id, sizeof(ref->exec_id), "%s", p->exec_id);
}

static void close_fd(int *fd, int watched)
{
    if (*fd >= 0) {
        if (watched)
            loop_unwatch(*fd);
        close(*fd);
        *fd = -1;
    }
}

static void free_process(int slot)
{
    struct process *p = &processes[slot];
    close_fd(&p->stdin_fd, 0);
    close_fd(&p->out_fd[0], 1);
    close_fd(&p->out_fd[1], 1);
    p->tty_fd = -1; /* the master was out_fd[0] */
    p->used = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The new process: everything between clone and exec runs here, in the child.               */
/* ------------------------------------------------------------------------------------------ */

struct spawn_plan {
    const ProcessSpec *process;
    const char *container_id;
    const ContainerSpec *spec; /* create: the rootfs to build; NULL for exec */
    int ns_fds[3];             /* exec: mnt, uts, ipc of the container (-1 = absent) */
    int stdio[3];              /* the child's ends */
    int terminal;
    int status_w;              /* child -> agent: "R" ready, or "E<message>"; close-on-exec */
    int start_r;               /* agent -> child: one byte = exec now; -1 for exec */
};

__attribute__((noreturn, format(printf, 2, 3))) static void child_fail(int status_w, const char *fmt, ...)
{
    int saved = errno;
    char msg[256];
    msg[0] = 'E';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = 1 + (size_t)n;
    if (len < sizeof(msg) && saved != 0)
        len += (size_t)snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
    if (len > sizeof(msg) - 1)
        len = sizeof(msg) - 1;
    ssize_t ignored = write(status_w, msg, len);
    (void)ignored;
    _exit(127);
}

static unsigned long mount_flag(const char *option)
{
    static const struct {
        const char *name;
        unsigned long flag;
    } FLAGS[] = {
        {"ro", MS_RDONLY},    {"nosuid", MS_NOSUID},   {"nodev", MS_NODEV},   {"noexec", MS_NOEXEC},
        {"bind", MS_BIND},    {"rbind", MS_BIND | MS_REC}, {"noatime", MS_NOATIME}, {"relatime", MS_RELATIME},
        {"strictatime", MS_STRICTATIME}, {"sync", MS_SYNCHRONOUS},
    };
    for (size_t i = 0; i < sizeof(FLAGS) / sizeof(FLAGS[0]); i++)
        if (strcmp(FLAGS[i].name, option) == 0)
            return FLAGS[i].flag;
    return 0;
}

static void make_mount_point(int status_w, const char *target, int file)
{
    if (file) {
        char parent[512];
        snprintf(parent, sizeof(parent), "%s", target);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent) {
            *slash = '\0';
            mkdir_p(parent, 0755);
        }
        int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EISDIR)
            child_fail(status_w, "cannot create the mount point %s", target);
        if (fd >= 0)
            close(fd);
    } else {
        int rc = mkdir_p(target, 0755);
        if (rc != 0) {
            errno = -rc;
            child_fail(status_w, "cannot create the mount point %s", target);
        }
    }
}

static void user_mount(int status_w, const char *rootfs, const flotilla_agent_v1_Mount *m)
{
    char target[512], data[512];
    snprintf(target, sizeof(target), "%s%s", rootfs, m->destination);
    unsigned long flags = 0;
    size_t dn = 0;
    data[0] = '\0';
    for (pb_size_t i = 0; i < m->options_count; i++) {
        unsigned long f = mount_flag(m->options[i]);
        if (f != 0)
            flags |= f;
        else
            dn += (size_t)snprintf(data + dn, sizeof(data) - dn, "%s%s", dn ? "," : "", m->options[i]);
    }
    int bind = strcmp(m->type, "bind") == 0 || (flags & MS_BIND);
    struct stat st;
    int source_is_file = bind && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode);
    make_mount_point(status_w, target, source_is_file);
    if (bind) {
        if (mount(m->source, target, NULL, MS_BIND | (flags & MS_REC), NULL) != 0)
            child_fail(status_w, "cannot bind-mount %s on %s", m->source, m->destination);
        unsigned long extra = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
        if (extra != 0 && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | extra, NULL) != 0)
            child_fail(status_w, "cannot remount the bind mount %s with its options", m->destination);
    } else {
        const char *source = m->source[0] != '\0' ? m->source : m->type;
        if (mount(source, target, m->type, flags, dn ? data : NULL) != 0)
            child_fail(status_w, "cannot mount %s (%s) on %s", source, m->type, m->destination);
    }
}

/* A minimal /dev: a tmpfs with the usual character devices, a private devpts and /dev/shm. The
 * guest's own /dev (with its block devices) never becomes visible to the container. */
static void populate_dev(int status_w, const char *rootfs)
{
    static const struct {
        const char *name;
        unsigned major, minor;
    } NODES[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    char path[512];
    snprintf(path, sizeof(path), "%s/dev", rootfs);
    make_mount_point(status_w, path, 0);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0)
        child_fail(status_w, "cannot mount a tmpfs on the container's /dev");
    for (size_t i = 0; i < sizeof(NODES) / sizeof(NODES[0]); i++) {
        snprintf(path, sizeof(path), "%s/dev/%s", rootfs, NODES[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(NODES[i].major, NODES[i].minor)) != 0)
            child_fail(status_w, "cannot create /dev/%s in the container", NODES[i].name);
        chmod(path, 0666); /* mknod honours the umask */
    }
    snprintf(path, sizeof(path), "%s/dev/pts", rootfs);
    mkdir(path, 0755);
    if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") != 0)
        child_fail(status_w, "cannot mount devpts on the container's /dev/pts");
    snprintf(path, sizeof(path), "%s/dev/shm", rootfs);
    mkdir(path, 01777);
    if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0)
        child_fail(status_w, "cannot mount a tmpfs on the container's /dev/shm");
    static const char *LINKS[][2] = {{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                     {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
    for (size_t i = 0; i < sizeof(LINKS) / sizeof(LINKS[0]); i++) {
        snprintf(path, sizeof(path), "%s/dev/%s", rootfs, LINKS[i][1]);
        if (symlink(LINKS[i][0], path) != 0)
            child_fail(status_w, "cannot create the symlink /dev/%s in the container", LINKS[i][1]);
    }
}

/* The container's root: its image read-only, a tmpfs for writes, overlayfs of the two; then the
 * pseudo file systems, the sandbox's DNS files, the spec's mounts and pivot_root into it. */
static void build_rootfs(const struct spawn_plan *plan)
{
    int w = plan->status_w;
    const ContainerSpec *spec = plan->spec;
    char base[256], image[300], rw[300], upper[320], work[320], rootfs[300], options[1024], path[512];
    snprintf(base, sizeof(base), CONTAINERS_DIR "/%s", plan->container_id);
    snprintf(image, sizeof(image), "%s/image", base);
    snprintf(rw, sizeof(rw), "%s/rw", base);
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", base);

    /* Mounts below stay in this namespace: none propagates back to the guest. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        child_fail(w, "cannot make the container's mounts private");
    if (mount(spec->root.device, image, spec->root.fs_type, MS_RDONLY | MS_NODEV, NULL) != 0)
        child_fail(w, "cannot mount the image %s (%s) read-only", spec->root.device, spec->root.fs_type);
    if (mount("tmpfs", rw, "tmpfs", MS_NODEV, "mode=0755") != 0)
        child_fail(w, "cannot mount the container's writable tmpfs");
    snprintf(upper, sizeof(upper), "%s/upper", rw);
    snprintf(work, sizeof(work), "%s/work", rw);
    if (mkdir(upper, 0755) != 0 || mkdir(work, 0755) != 0)
        child_fail(w, "cannot create the overlay's upper and work directories");
    snprintf(options, sizeof(options), "lowerdir=%s,upperdir=%s,workdir=%s", image, upper, work);
    if (mount("overlay", rootfs, "overlay", 0, options) != 0)
        child_fail(w, "cannot mount the overlay root (%s)", options);

    snprintf(path, sizeof(path), "%s/proc", rootfs);
    make_mount_point(w, path, 0);
    if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_fail(w, "cannot mount /proc in the container");
    snprintf(path, sizeof(path), "%s/sys", rootfs);
    make_mount_point(w, path, 0);
    if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        child_fail(w, "cannot mount /sys in the container");
    populate_dev(w, rootfs);

    static const char *SANDBOX_FILES[] = {"/etc/resolv.conf", "/etc/hosts", "/etc/hostname"};
    for (size_t i = 0; i < sizeof(SANDBOX_FILES) / sizeof(SANDBOX_FILES[0]); i++) {
        if (access(SANDBOX_FILES[i], R_OK) != 0)
            continue; /* no CreateSandbox yet */
        snprintf(path, sizeof(path), "%s%s", rootfs, SANDBOX_FILES[i]);
        make_mount_point(w, path, 1);
        if (mount(SANDBOX_FILES[i], path, NULL, MS_BIND, NULL) != 0 ||
            mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0)
            child_fail(w, "cannot bind-mount the sandbox's %s into the container", SANDBOX_FILES[i]);
    }
    for (pb_size_t i = 0; i < spec->mounts_count; i++)
        user_mount(w, rootfs, &spec->mounts[i]);

    if (chdir(rootfs) != 0)
        child_fail(w, "cannot enter %s", rootfs);
    /* pivot_root(".", "."): the old root ends up stacked under the new one, then is detached.
     * The guest's root is usually the initramfs, which pivot_root refuses (EINVAL: the initial
     * rootfs has no parent mount); then the overlay is moved over "/" and chrooted into, as
     * switch_root does. The guest's own tree stays hidden under it, in this namespace only. */
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        if (umount2(".", MNT_DETACH) != 0)
            child_fail(w, "cannot detach the guest's root from the container");
    } else if (errno == EINVAL) {
        if (mount(rootfs, "/", NULL, MS_MOVE, NULL) != 0)
            child_fail(w, "cannot move the container's root %s over /", rootfs);
        if (chroot(".") != 0)
            child_fail(w, "chroot into the container's root");
    } else {
        child_fail(w, "pivot_root into %s failed", rootfs);
    }
    if (chdir("/") != 0)
        child_fail(w, "chdir / in the container");
    if (plan->spec->namespaces.uts) {
        const char *name = spec->hostname[0] != '\0' ? spec->hostname : plan->container_id;
        if (sethostname(name, strlen(name)) != 0)
            child_fail(w, "sethostname(%s)", name);
    }
}

static void apply_process_settings(const struct spawn_plan *plan)
{
    int w = plan->status_w;
    const ProcessSpec *p = plan->process;
    for (pb_size_t i = 0; i < p->rlimits_count; i++) {
        struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
        if (setrlimit(rlimit_by_name(p->rlimits[i].type), &rl) != 0)
            child_fail(w, "setrlimit %s (soft %llu, hard %llu)", p->rlimits[i].type, (unsigned long long)rl.rlim_cur,
                       (unsigned long long)rl.rlim_max);
    }
    gid_t groups[16];
    for (pb_size_t i = 0; i < p->additional_gids_count; i++)
        groups[i] = p->additional_gids[i];
    if (setgroups(p->additional_gids_count, groups) != 0)
        child_fail(w, "setgroups");
    if (setgid(p->gid) != 0)
        child_fail(w, "setgid(%u)", p->gid);
    if (setuid(p->uid) != 0)
        child_fail(w, "setuid(%u)", p->uid);
    const char *cwd = p->cwd[0] != '\0' ? p->cwd : "/";
    if (chdir(cwd) != 0)
        child_fail(w, "cannot change to the working directory %s", cwd);
}

__attribute__((noreturn)) static void child_main(const struct spawn_plan *plan)
{
    int w = plan->status_w;
    /* The agent blocks SIGCHLD (for its signalfd); a container starts with a clean slate. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    if (setsid() < 0)
        child_fail(w, "setsid");
    /* The cgroup first: the container's mount namespace has no /sys/fs/cgroup. */
    int rc = cgroup_enter(plan->container_id);
    if (rc != 0) {
        errno = -rc;
        child_fail(w, "cannot join the container's cgroup");
    }
    if (plan->spec == NULL) {
        static const char *NAMES[] = {"mount", "uts", "ipc"};
        for (int i = 0; i < 3; i++)
            if (plan->ns_fds[i] >= 0 && setns(plan->ns_fds[i], 0) != 0)
                child_fail(w, "cannot join the container's %s namespace", NAMES[i]);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(plan->stdio[i], i) < 0)
            child_fail(w, "dup2 of the standard streams");
    if (plan->terminal && ioctl(0, TIOCSCTTY, 0) != 0)
        child_fail(w, "cannot make the terminal the controlling one");
    if (plan->spec != NULL)
        build_rootfs(plan);
    apply_process_settings(plan);

    static char *argv[65], *envp[65];
    const ProcessSpec *p = plan->process;
    for (pb_size_t i = 0; i < p->args_count; i++)
        argv[i] = (char *)p->args[i];
    argv[p->args_count] = NULL;
    for (pb_size_t i = 0; i < p->env_count; i++)
        envp[i] = (char *)p->env[i];
    envp[p->env_count] = NULL;
    extern char **environ;
    environ = envp; /* execvp looks args[0] up in this PATH */

    if (plan->start_r >= 0) {
        ssize_t ignored = write(w, "R", 1);
        (void)ignored;
        char go;
        if (read(plan->start_r, &go, 1) != 1)
            _exit(0); /* deleted before start */
    }
    execvp(argv[0], argv);
    child_fail(w, "cannot execute %s", argv[0]);
}

/* ------------------------------------------------------------------------------------------ */
/* The agent's side of spawning                                                               */
/* ------------------------------------------------------------------------------------------ */

static int validate_process(const ProcessSpec *p, struct agent_error *err)
{
    if (p->args_count == 0 || p->args[0][0] == '\0')
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "the process has no args (args[0] is the program)");
    if (p->cwd[0] != '\0' && !valid_abs_path(p->cwd))
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "cwd '%s' is not an absolute path without '..'", p->cwd);
    for (pb_size_t i = 0; i < p->env_count; i++)
        if (strchr(p->env[i], '=') == NULL || p->env[i][0] == '=')
            return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "env entry '%s' is not KEY=VALUE", p->env[i]);
    for (pb_size_t i = 0; i < p->rlimits_count; i++) {
        if (rlimit_by_name(p->rlimits[i].type) < 0)
            return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "unknown rlimit '%s'", p->rlimits[i].type);
        if (p->rlimits[i].soft > p->rlimits[i].hard)
            return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "rlimit %s: soft %llu exceeds hard %llu", p->rlimits[i].type,
                        (unsigned long long)p->rlimits[i].soft, (unsigned long long)p->rlimits[i].hard);
    }
    return 0;
}

static int free_process_slot(void)
{
    for (int i = 0; i < MAX_PROCESSES; i++)
        if (!processes[i].used)
            return i;
    return -1;
}

/* Pipes or a pty for a new process; the child's ends go into plan->stdio, ours into p. */
static int open_stdio(struct spawn_plan *plan, struct process *p, const ProcessSpec *spec, struct agent_error *err)
{
    p->stdin_fd = p->out_fd[0] = p->out_fd[1] = p->tty_fd = -1;
    plan->stdio[0] = plan->stdio[1] = plan->stdio[2] = -1;
    plan->terminal = spec->terminal;
    if (spec->terminal) {
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
            return fail_errno(err, "cannot open a pseudo-terminal");
        char *name;
        if (grantpt(master) != 0 || unlockpt(master) != 0 || (name = ptsname(master)) == NULL) {
            fail_errno(err, "cannot unlock the pseudo-terminal");
            close(master);
            return -1;
        }
        int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
            fail_errno(err, "cannot open %s", name);
            close(master);
            return -1;
        }
        struct winsize ws = {.ws_row = (unsigned short)(spec->tty_rows ? spec->tty_rows : 24),
                             .ws_col = (unsigned short)(spec->tty_cols ? spec->tty_cols : 80)};
        ioctl(master, TIOCSWINSZ, &ws);
        plan->stdio[0] = plan->stdio[1] = plan->stdio[2] = slave;
        p->out_fd[0] = master;
        p->tty_fd = master;
        p->stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        fcntl(master, F_SETFL, O_NONBLOCK);
        return 0;
    }
    int fds[3][2];
    for (int i = 0; i < 3; i++) {
        if (pipe2(fds[i], O_CLOEXEC) != 0) {
            fail_errno(err, "pipe2");
            for (int j = 0; j < i; j++) {
                close(fds[j][0]);
                close(fds[j][1]);
            }
            return -1;
        }
    }
    plan->stdio[0] = fds[0][0];
    p->stdin_fd = fds[0][1];
    plan->stdio[1] = fds[1][1];
    p->out_fd[0] = fds[1][0];
    plan->stdio[2] = fds[2][1];
    p->out_fd[1] = fds[2][0];
    fcntl(p->stdin_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->out_fd[0], F_SETFL, O_NONBLOCK);
    fcntl(p->out_fd[1], F_SETFL, O_NONBLOCK);
    return 0;
}

static void close_child_stdio(struct spawn_plan *plan)
{
    for (int i = 0; i < 3; i++) {
        if (plan->stdio[i] >= 0 && (i == 0 || plan->stdio[i] != plan->stdio[i - 1]))
            close(plan->stdio[i]);
        plan->stdio[i] = -1;
    }
}

/* Reads the child's set-up report: 'R' (ready, waiting for start), EOF (it executed), or
 * 'E' + message. Returns 1 ready, 0 executed, -1 failed (err filled). */
static int read_setup_report(int status_r, const char *what, struct agent_error *err)
{
    char msg[256];
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = status_r, .events = POLLIN};
        int n = poll(&pfd, 1, SETUP_TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return fail(err, flotilla_agent_v1_ErrorCode_SYSTEM_ERROR, "%s: the new process did not finish its set-up in %d ms", what,
                        SETUP_TIMEOUT_MS);
        ssize_t r = read(status_r, msg + len, sizeof(msg) - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (msg[0] == 'R')
            return 1;
        if (len == sizeof(msg) - 1)
            break;
    }
    if (len == 0)
        return 0;
    msg[len] = '\0';
    return fail(err, msg[0] == 'E' ? flotilla_agent_v1_ErrorCode_SYSTEM_ERROR : flotilla_agent_v1_ErrorCode_ERROR_UNSPECIFIED, "%s: %s",
                what, msg[0] == 'E' ? msg + 1 : msg);
}

static pid_t clone_child(unsigned long flags)
{
    /* A raw clone returns in the child on the same (copied) stack, like fork, but can create the
     * namespaces at once: the child is PID 1 of a new pid namespace, not a grandchild. */
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

static void watch_outputs(int slot)
{
    struct process *p = &processes[slot];
    for (int s = 0; s < 2; s++)
        if (p->out_fd[s] >= 0)
            loop_watch(p->out_fd[s], TAG_OUTPUT | (uint32_t)slot << 1 | (uint32_t)s);
}

int container_create(const flotilla_agent_v1_CreateContainer *req, uint32_t conn, int32_t *pid_out, struct agent_error *err)
{
    const ContainerSpec *spec = &req->spec;
    if (!valid_id(req->container_id))
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "container id '%s' is not 1-63 of [A-Za-z0-9_.-]", req->container_id);
    if (find_container(req->container_id) >= 0)
        return fail(err, flotilla_agent_v1_ErrorCode_ALREADY_EXISTS, "container '%s' already exists", req->container_id);
    if (!req->has_spec || !spec->has_process || !spec->has_root)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "container '%s': the spec needs a process and a root", req->container_id);
    if (validate_process(&spec->process, err) != 0)
        return -1;
    if (strncmp(spec->root.device, "/dev/", 5) != 0 || !valid_abs_path(spec->root.device))
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "root device '%s' is not a /dev path", spec->root.device);
    if (strcmp(spec->root.fs_type, "ext4") != 0 && strcmp(spec->root.fs_type, "erofs") != 0)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "root fs type '%s' is not ext4 or erofs", spec->root.fs_type);
    for (pb_size_t i = 0; i < spec->mounts_count; i++) {
        const flotilla_agent_v1_Mount *m = &spec->mounts[i];
        if (!valid_abs_path(m->destination) || strcmp(m->destination, "/") == 0)
            return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "mount destination '%s' is not an absolute path below / without '..'",
                        m->destination);
        if (m->type[0] == '\0')
            return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "mount on %s has no type", m->destination);
    }
    int c = -1;
    for (int i = 0; i < MAX_CONTAINERS; i++)
        if (!containers[i].used) {
            c = i;
            break;
        }
    int slot = free_process_slot();
    if (c < 0 || slot < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "the agent already holds %d containers and %d processes", MAX_CONTAINERS,
                    MAX_PROCESSES);

    char dir[256];
    static const char *SUBDIRS[] = {"image", "rw", "rootfs"};
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof(dir), CONTAINERS_DIR "/%s/%s", req->container_id, SUBDIRS[i]);
        int rc = mkdir_p(dir, 0755);
        if (rc != 0) {
            errno = -rc;
            return fail_errno(err, "cannot create %s", dir);
        }
    }
    if (cgroup_create(req->container_id, spec->has_resources ? &spec->resources : NULL, err) != 0) {
        cgroup_remove(req->container_id);
        return -1;
    }

    struct process *p = &processes[slot];
    memset(p, 0, sizeof(*p));
    struct spawn_plan plan = {.process = &spec->process, .container_id = req->container_id, .spec = spec, .ns_fds = {-1, -1, -1}};
    int status[2], start[2];
    if (open_stdio(&plan, p, &spec->process, err) != 0)
        goto fail_cgroup;
    if (pipe2(status, O_CLOEXEC) != 0 || pipe2(start, O_CLOEXEC) != 0) {
        fail_errno(err, "pipe2");
        close_child_stdio(&plan);
        goto fail_process;
    }
    plan.status_w = status[1];
    plan.start_r = start[0];
    unsigned long flags = CLONE_NEWNS | (spec->namespaces.pid ? CLONE_NEWPID : 0) | (spec->namespaces.uts ? CLONE_NEWUTS : 0) |
                          (spec->namespaces.ipc ? CLONE_NEWIPC : 0);
    pid_t pid = clone_child(flags);
    if (pid == 0)
        child_main(&plan);
    int saved = errno;
    close(status[1]);
    close(start[0]);
    close_child_stdio(&plan);
    if (pid < 0) {
        errno = saved;
        fail_errno(err, "cannot create the process of container '%s'", req->container_id);
        close(status[0]);
        close(start[1]);
        goto fail_process;
    }
    char what[128];
    snprintf(what, sizeof(what), "container '%s'", req->container_id);
    int report = read_setup_report(status[0], what, err);
    close(status[0]);
    if (report != 1) {
        if (report == 0)
            fail(err, flotilla_agent_v1_ErrorCode_SYSTEM_ERROR, "%s: the process ended during its set-up", what);
        kill(pid, SIGKILL);
        close(start[1]);
        goto fail_process;
    }

    struct container *ct = &containers[c];
    memset(ct, 0, sizeof(*ct));
    ct->used = 1;
    snprintf(ct->id, sizeof(ct->id), "%s", req->container_id);
    ct->state = CREATED;
    ct->process = slot;
    ct->start_fd = start[1];
    ct->shares_pid_ns = !spec->namespaces.pid;
    ct->has_uts_ns = spec->namespaces.uts;
    ct->has_ipc_ns = spec->namespaces.ipc;
    ct->oom_wd = -1;
    if (inotify_fd >= 0) {
        char events[256];
        snprintf(events, sizeof(events), CGROUP_ROOT "/%s/memory.events", ct->id);
        ct->oom_wd = inotify_add_watch(inotify_fd, events, IN_MODIFY);
    }
    p->used = 1;
    p->container = c;
    p->pid = pid;
    p->owner = conn;
    watch_outputs(slot);
    *pid_out = pid;
    agent_log("container %s created (pid %d)", ct->id, (int)pid);
    return 0;

fail_process:
    free_process(slot);
fail_cgroup:
    cgroup_remove(req->container_id);
    return -1;
}

int container_start(const char *id, struct agent_error *err)
{
    int c = find_container(id);
    if (c < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "no container '%s'", id);
    struct container *ct = &containers[c];
    if (ct->state != CREATED)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "container '%s' is %s, not created", id, state_name(ct->state));
    ct->state = RUNNING;
    if (write(ct->start_fd, "G", 1) != 1)
        return fail_errno(err, "cannot release the process of container '%s'", id);
    close(ct->start_fd);
    ct->start_fd = -1;
    return 0;
}

int process_exec(const flotilla_agent_v1_ExecProcess *req, uint32_t conn, int32_t *pid_out, struct agent_error *err)
{
    int c = find_container(req->container_id);
    if (c < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "no container '%s'", req->container_id);
    struct container *ct = &containers[c];
    if (ct->state != RUNNING || processes[ct->process].exited)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "container '%s' is %s: exec needs a running container", req->container_id,
                    processes[ct->process].exited ? "stopped" : state_name(ct->state));
    if (!valid_id(req->exec_id))
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "exec id '%s' is not 1-63 of [A-Za-z0-9_.-]", req->exec_id);
    ProcessRef ref;
    snprintf(ref.container_id, sizeof(ref.container_id), "%s", req->container_id);
    snprintf(ref.exec_id, sizeof(ref.exec_id), "%s", req->exec_id);
    if (find_process(&ref, NULL) >= 0)
        return fail(err, flotilla_agent_v1_ErrorCode_ALREADY_EXISTS, "container '%s' already has an exec '%s'", req->container_id, req->exec_id);
    if (!req->has_process || validate_process(&req->process, err) != 0)
        return req->has_process ? -1 : fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "exec '%s' has no process", req->exec_id);
    int slot = free_process_slot();
    if (slot < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "the agent already holds %d processes", MAX_PROCESSES);

    pid_t init = processes[ct->process].pid;
    struct spawn_plan plan = {.process = &req->process, .container_id = ct->id, .spec = NULL, .ns_fds = {-1, -1, -1}, .start_r = -1};
    static const char *NS[] = {"mnt", "uts", "ipc"};
    const int wanted[] = {1, ct->has_uts_ns, ct->has_ipc_ns};
    char path[64];
    int pid_ns = -1, rc = -1;
    for (int i = 0; i < 3; i++) {
        if (!wanted[i])
            continue;
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init, NS[i]);
        if ((plan.ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            fail_errno(err, "cannot open %s", path);
            goto out;
        }
    }
    if (!ct->shares_pid_ns) {
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
        if ((pid_ns = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            fail_errno(err, "cannot open %s", path);
            goto out;
        }
    }
    struct process *p = &processes[slot];
    memset(p, 0, sizeof(*p));
    if (open_stdio(&plan, p, &req->process, err) != 0)
        goto out;
    int status[2];
    if (pipe2(status, O_CLOEXEC) != 0) {
        fail_errno(err, "pipe2");
        close_child_stdio(&plan);
        free_process(slot);
        goto out;
    }
    plan.status_w = status[1];
    /* Joining a pid namespace only affects children: switch the agent's "children's pid
     * namespace" to the container's for this one clone, then back. */
    if (pid_ns >= 0 && setns(pid_ns, CLONE_NEWPID) != 0) {
        fail_errno(err, "cannot enter the pid namespace of container '%s'", ct->id);
        close(status[0]);
        close(status[1]);
        close_child_stdio(&plan);
        free_process(slot);
        goto out;
    }
    pid_t pid = clone_child(0);
    if (pid == 0)
        child_main(&plan);
    int saved = errno;
    if (pid_ns >= 0 && setns(own_pid_ns, CLONE_NEWPID) != 0)
        agent_log("cannot return to the agent's pid namespace: %s", strerror(errno));
    close(status[1]);
    close_child_stdio(&plan);
    if (pid < 0) {
        errno = saved;
        fail_errno(err, "cannot create exec '%s' in container '%s'", req->exec_id, ct->id);
        close(status[0]);
        free_process(slot);
        goto out;
    }
    char what[160];
    snprintf(what, sizeof(what), "exec '%s' in container '%s'", req->exec_id, ct->id);
    int report = read_setup_report(status[0], what, err);
    close(status[0]);
    if (report != 0) {
        if (report == 1)
            fail(err, flotilla_agent_v1_ErrorCode_SYSTEM_ERROR, "%s: unexpected set-up report", what);
        kill(pid, SIGKILL);
        free_process(slot);
        goto out;
    }
    p->used = 1;
    p->container = c;
    snprintf(p->exec_id, sizeof(p->exec_id), "%s", req->exec_id);
    p->pid = pid;
    p->owner = conn;
    watch_outputs(slot);
    *pid_out = pid;
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        if (plan.ns_fds[i] >= 0)
            close(plan.ns_fds[i]);
    if (pid_ns >= 0)
        close(pid_ns);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Running processes                                                                          */
/* ------------------------------------------------------------------------------------------ */

int process_wait(const ProcessRef *ref, uint32_t conn, uint64_t request_id, flotilla_agent_v1_ExitStatus *status, struct agent_error *err)
{
    int slot = find_process(ref, err);
    if (slot < 0)
        return -1;
    struct process *p = &processes[slot];
    if (p->exited) {
        *status = p->status;
        return 1;
    }
    if (p->waiter_count == MAX_WAITERS)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "process already has %d pending waits", MAX_WAITERS);
    p->waiters[p->waiter_count++] = (struct waiter){.conn = conn, .request_id = request_id};
    return 0;
}

int process_signal(const ProcessRef *ref, int sig, struct agent_error *err)
{
    if (sig <= 0 || sig >= NSIG)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "signal %d is not a valid signal number", sig);
    int slot = find_process(ref, err);
    if (slot < 0)
        return -1;
    struct process *p = &processes[slot];
    if (p->exited)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "the process has already exited");
    if (kill(p->pid, sig) != 0)
        return fail_errno(err, "kill(%d, %d)", (int)p->pid, sig);
    return 0;
}

int process_write_stdin(const ProcessRef *ref, const uint8_t *data, size_t len, struct agent_error *err)
{
    int slot = find_process(ref, err);
    if (slot < 0)
        return -1;
    struct process *p = &processes[slot];
    if (p->stdin_fd < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "the process's stdin is closed");
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(p->stdin_fd, data + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = p->stdin_fd, .events = POLLOUT};
            if (poll(&pfd, 1, STDIN_TIMEOUT_MS) == 0)
                return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION,
                            "the process did not read its stdin for %d ms (%zu of %zu bytes written)", STDIN_TIMEOUT_MS, done, len);
            continue;
        }
        return fail_errno(err, "writing to the process's stdin");
    }
    return 0;
}

int process_close_stdin(const ProcessRef *ref, struct agent_error *err)
{
    int slot = find_process(ref, err);
    if (slot < 0)
        return -1;
    struct process *p = &processes[slot];
    if (p->tty_fd >= 0 && p->stdin_fd >= 0) {
        /* A terminal has no half-close: send EOF (^D) as a line discipline would. */
        ssize_t ignored = write(p->stdin_fd, "\x04", 1);
        (void)ignored;
    }
    close_fd(&p->stdin_fd, 0);
    return 0;
}

int process_resize_tty(const ProcessRef *ref, uint32_t rows, uint32_t cols, struct agent_error *err)
{
    int slot = find_process(ref, err);
    if (slot < 0)
        return -1;
    struct process *p = &processes[slot];
    if (p->tty_fd < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_FAILED_PRECONDITION, "the process has no terminal");
    if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535)
        return fail(err, flotilla_agent_v1_ErrorCode_INVALID_ARGUMENT, "terminal size %ux%u is out of range 1..65535", rows, cols);
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (ioctl(p->tty_fd, TIOCSWINSZ, &ws) != 0)
        return fail_errno(err, "TIOCSWINSZ");
    return 0;
}

int container_stats(const char *id, flotilla_agent_v1_Stats *stats, struct agent_error *err)
{
    if (find_container(id) < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "no container '%s'", id);
    return cgroup_stats(id, stats, err);
}

int container_update(const char *id, const flotilla_agent_v1_Resources *resources, struct agent_error *err)
{
    if (find_container(id) < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "no container '%s'", id);
    return cgroup_update(id, resources, err);
}

int container_delete(const char *id, struct agent_error *err)
{
    int c = find_container(id);
    if (c < 0)
        return fail(err, flotilla_agent_v1_ErrorCode_NOT_FOUND, "no container '%s'", id);
    struct container *ct = &containers[c];
    if (ct->start_fd >= 0)
        close(ct->start_fd); /* a created process reads EOF and exits */
    for (int i = 0; i < MAX_PROCESSES; i++) {
        if (processes[i].used && processes[i].container == c) {
            if (!processes[i].exited)
                kill(processes[i].pid, SIGKILL);
            free_process(i); /* its zombie is reaped later as a stranger */
        }
    }
    cgroup_remove(ct->id);
    if (ct->oom_wd >= 0 && inotify_fd >= 0)
        inotify_rm_watch(inotify_fd, ct->oom_wd);
    /* The mounts lived in the container's mount namespace and went with it; only dirs remain. */
    char dir[256];
    static const char *SUBDIRS[] = {"image", "rw", "rootfs", ""};
    for (int i = 0; i < 4; i++) {
        snprintf(dir, sizeof(dir), CONTAINERS_DIR "/%s/%s", ct->id, SUBDIRS[i]);
        rmdir(dir);
    }
    agent_log("container %s deleted", ct->id);
    ct->used = 0;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Loop callbacks                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Reads once from one output; sends what came as an Output event. Returns bytes, 0 at EOF, -1
 * when nothing is available now. */
static ssize_t forward_output(int slot, int stream)
{
    struct process *p = &processes[slot];
    int fd = p->out_fd[stream];
    if (fd < 0)
        return 0;
    memset(&event, 0, sizeof(event));
    event.which_body = flotilla_agent_v1_AgentMessage_output_tag;
    flotilla_agent_v1_Output *out = &event.body.output;
    ssize_t n;
    do
        n = read(fd, out->data.bytes, sizeof(out->data.bytes));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return -1;
    if (n <= 0) { /* EOF, or EIO from a pty whose other side closed */
        close_fd(&p->out_fd[stream], 1);
        if (p->tty_fd >= 0 && stream == 0)
            p->tty_fd = -1;
        return 0;
    }
    out->has_process = true;
    set_ref(&out->process, p);
    out->stream = stream == 0 ? flotilla_agent_v1_Stream_STDOUT : flotilla_agent_v1_Stream_STDERR;
    out->data.size = (pb_size_t)n;
    conn_send(p->owner, &event);
    return n;
}

void process_output_ready(uint32_t tag)
{
    int slot = (int)((tag & 0xffffu) >> 1);
    int stream = (int)(tag & 1u);
    if (slot < MAX_PROCESSES && processes[slot].used)
        forward_output(slot, stream);
}

static void send_exit(int slot)
{
    struct process *p = &processes[slot];
    memset(&event, 0, sizeof(event));
    event.which_body = flotilla_agent_v1_AgentMessage_exited_tag;
    event.body.exited.has_process = true;
    set_ref(&event.body.exited.process, p);
    event.body.exited.has_status = true;
    event.body.exited.status = p->status;
    conn_send(p->owner, &event);
    for (int i = 0; i < p->waiter_count; i++) {
        memset(&event, 0, sizeof(event));
        event.id = p->waiters[i].request_id;
        event.which_body = flotilla_agent_v1_AgentMessage_exit_tag;
        event.body.exit = p->status;
        conn_send(p->waiters[i].conn, &event);
    }
    p->waiter_count = 0;
}

static void process_exited(int slot, int wstatus)
{
    struct process *p = &processes[slot];
    p->exited = 1;
    if (WIFSIGNALED(wstatus)) {
        p->status.signal = WTERMSIG(wstatus);
        p->status.exit_code = 128 + WTERMSIG(wstatus);
    } else {
        p->status.exit_code = WEXITSTATUS(wstatus);
    }
    /* Output the process wrote before it ended reaches the host before its exit: drain what
     * the pipes hold now. A descendant that keeps the pipe open loses what it writes later. */
    for (int s = 0; s < 2; s++) {
        while (p->out_fd[s] >= 0 && forward_output(slot, s) > 0)
            ;
        close_fd(&p->out_fd[s], 1);
    }
    close_fd(&p->stdin_fd, 0);
    p->tty_fd = -1;
    struct container *ct = &containers[p->container];
    if (ct->process == slot) {
        ct->state = STOPPED;
        agent_log("container %s exited %d", ct->id, p->status.exit_code);
    }
    send_exit(slot);
}

void processes_reap(void)
{
    for (;;) {
        int wstatus;
        pid_t pid = waitpid(-1, &wstatus, WNOHANG);
        if (pid <= 0)
            return;
        for (int i = 0; i < MAX_PROCESSES; i++) {
            if (processes[i].used && !processes[i].exited && processes[i].pid == pid) {
                process_exited(i, wstatus);
                break;
            }
        }
    }
}

void containers_check_oom(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(fd, buf, sizeof(buf)) > 0)
        ; /* which file changed does not matter: compare every container's counter */
    for (int c = 0; c < MAX_CONTAINERS; c++) {
        struct container *ct = &containers[c];
        if (!ct->used)
            continue;
        uint64_t kills = cgroup_oom_kills(ct->id);
        if (kills <= ct->oom_kills)
            continue;
        ct->oom_kills = kills;
        agent_log("container %s: OOM killer ran (%llu kills so far)", ct->id, (unsigned long long)kills);
        memset(&event, 0, sizeof(event));
        event.which_body = flotilla_agent_v1_AgentMessage_oom_tag;
        snprintf(event.body.oom.container_id, sizeof(event.body.oom.container_id), "%s", ct->id);
        event.body.oom.oom_kills = kills;
        conn_send(processes[ct->process].owner, &event);
    }
}

void connection_gone(uint32_t conn)
{
    for (int i = 0; i < MAX_PROCESSES; i++) {
        struct process *p = &processes[i];
        if (!p->used)
            continue;
        int kept = 0;
        for (int w = 0; w < p->waiter_count; w++)
            if (p->waiters[w].conn != conn)
                p->waiters[kept++] = p->waiters[w];
        p->waiter_count = kept;
        /* Output keeps being read (so the process never blocks on a full pipe) and dropped. */
    }
}

void containers_kill_all(void)
{
    for (int c = 0; c < MAX_CONTAINERS; c++)
        if (containers[c].used)
            cgroup_remove(containers[c].id);
}
