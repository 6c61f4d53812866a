/* Starting children and reaping them: init is every orphan's parent. */
#ifndef FLOTILLA_PROCESS_H
#define FLOTILLA_PROCESS_H

#include <sys/types.h>

/* Installs the SIGCHLD handler that wakes process_idle_forever (never SIG_IGN: that would reap
 * the children whose status we wait for). */
void process_init_signals(void);

/* Starts /bin/busybox sh with argv tail; interactive gives it the console as controlling tty. */
pid_t process_spawn_shell(const char *command, int interactive);

/* Waits for pid, reaping every other child that exits meanwhile. Returns the shell-style exit
 * code (status, or 128 + signal), or -1 if pid is not our child. */
int process_wait_for(pid_t pid);

/* Runs program (stdio on the console) and restarts it whenever it dies, a second later, while
 * reaping every orphan; never returns. */
void process_supervise(const char *program) __attribute__((noreturn));

/* Reaps orphans forever. */
void process_idle_forever(void) __attribute__((noreturn));

#endif
