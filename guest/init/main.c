/*
 * flotilla-init: PID 1 of Flotilla's guests.
 *
 * Boot sequence: mount the pseudo file systems, stop the VMM's boot timer (a byte written at
 * guest physical 0xC0000000), print the "userspace up" marker, then act on the kernel command
 * line: flotilla.run="<cmd>" runs a command through busybox sh and reports its exit code;
 * flotilla.exit=reboot|poweroff|shell|idle|agent says what happens afterwards (default idle; agent
 * runs the guest agent and restarts it if it dies). As PID 1
 * it never exits: it reaps orphans for as long as the guest lives.
 */
#include "cmdline.h"
#include "log.h"
#include "platform.h"
#include "process.h"

#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

/* The guest agent (guest/agent), installed by guest/build.sh. */
#define AGENT_PROGRAM "/bin/flotilla-agent"

static void set_environment(void)
{
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
    setenv("HOME", "/root", 1);
    setenv("TERM", "linux", 0);
}

__attribute__((noreturn)) static void finish(enum exit_action action)
{
    switch (action) {
    case EXIT_REBOOT:
        log_msg("rebooting");
        platform_power(RB_AUTOBOOT);
        break;
    case EXIT_POWEROFF:
        log_msg("powering off");
        platform_power(RB_POWER_OFF);
        break;
    case EXIT_SHELL: {
        pid_t shell = process_spawn_shell(NULL, 1);
        if (shell > 0)
            process_wait_for(shell);
        log_msg("shell exited, rebooting");
        platform_power(RB_AUTOBOOT);
        break;
    }
    case EXIT_AGENT:
        log_msg("starting the guest agent %s", AGENT_PROGRAM);
        process_supervise(AGENT_PROGRAM);
    case EXIT_IDLE:
        break;
    }
    process_idle_forever();
}

int main(void)
{
    if (getpid() != 1) {
        log_msg("must run as PID 1 (the kernel's init), not as pid %d", (int)getpid());
        return 1;
    }
    process_init_signals();
    set_environment();
    platform_mount_all();

    int timer = platform_signal_boot_timer();
    if (timer != 0)
        log_msg("cannot signal the boot timer at 0x%lx through /dev/mem: %s", BOOT_TIMER_ADDRESS, strerror(-timer));

    log_msg("userspace up (%ld cpus)", platform_online_cpus());

    char cmdline[8192];
    struct init_options options;
    char err[256];
    int rc = platform_read_cmdline(cmdline, sizeof(cmdline));
    if (rc != 0) {
        log_msg("cannot read /proc/cmdline: %s", strerror(-rc));
        cmdline[0] = '\0';
    }
    if (cmdline_parse(cmdline, &options, err, sizeof(err)) != 0) {
        log_msg("%s; rebooting", err);
        finish(EXIT_REBOOT);
    }

    if (options.has_run) {
        log_msg("running: %s", options.run);
        pid_t child = process_spawn_shell(options.run, 0);
        int code = child > 0 ? process_wait_for(child) : 127;
        log_msg("command exited %d", code);
    }
    finish(options.exit_action);
}
