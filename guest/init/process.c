#include "process.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUSYBOX "/bin/busybox"

static void on_sigchld(int sig)
{
    (void)sig;
}

void process_init_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
}

pid_t process_spawn_shell(const char *command, int interactive)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_msg("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        return pid;

    /* Child: its own session; an interactive shell also takes the console as its controlling
     * terminal so that job control and Ctrl-C work. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    setsid();
    if (interactive)
        ioctl(STDIN_FILENO, TIOCSCTTY, 1);
    if (command != NULL)
        execl(BUSYBOX, "sh", "-c", command, (char *)NULL);
    else
        execl(BUSYBOX, "sh", (char *)NULL);
    log_msg("cannot execute %s: %s", BUSYBOX, strerror(errno));
    _exit(127);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

int process_wait_for(pid_t pid)
{
    for (;;) {
        int status;
        pid_t done = waitpid(-1, &status, 0);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return -1; /* ECHILD: pid is gone or never was ours */
        }
        if (done == pid)
            return exit_code(status);
    }
}

static pid_t spawn_program(const char *program)
{
    pid_t pid = fork();
    if (pid != 0) {
        if (pid < 0)
            log_msg("fork failed: %s", strerror(errno));
        return pid;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    execl(program, program, (char *)NULL);
    log_msg("cannot execute %s: %s", program, strerror(errno));
    _exit(127);
}

void process_supervise(const char *program)
{
    /* Same wake-up discipline as process_idle_forever; the supervised child is one we wait for. */
    sigset_t chld, waiting;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &waiting);
    sigdelset(&waiting, SIGCHLD);
    pid_t child = spawn_program(program);
    for (;;) {
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
            if (done != child)
                continue;
            if (WIFSIGNALED(status))
                log_msg("%s was killed by signal %d; restarting it", program, WTERMSIG(status));
            else
                log_msg("%s exited %d; restarting it", program, WEXITSTATUS(status));
            /* A second's pause: a program that dies at once must not spin the guest's CPUs. */
            sigprocmask(SIG_SETMASK, &waiting, NULL);
            sleep(1);
            sigprocmask(SIG_BLOCK, &chld, NULL);
            child = spawn_program(program);
        }
        if (child < 0) {
            sigprocmask(SIG_SETMASK, &waiting, NULL);
            sleep(1);
            sigprocmask(SIG_BLOCK, &chld, NULL);
            child = spawn_program(program);
            continue;
        }
        sigsuspend(&waiting);
    }
}

void process_idle_forever(void)
{
    /* SIGCHLD stays blocked except inside sigsuspend, so an orphan that exits between the last
     * waitpid and the sleep still wakes us (no lost wake-up). */
    sigset_t chld, waiting;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &waiting);
    sigdelset(&waiting, SIGCHLD);
    for (;;) {
        int status;
        while (waitpid(-1, &status, WNOHANG) > 0)
            ;
        sigsuspend(&waiting);
    }
}
