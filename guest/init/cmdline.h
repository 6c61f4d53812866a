/* Parsing of the kernel command line (/proc/cmdline) for flotilla.* parameters. */
#ifndef FLOTILLA_CMDLINE_H
#define FLOTILLA_CMDLINE_H

#include <stddef.h>

/* What init does once its work (if any) is done. */
enum exit_action {
    EXIT_IDLE,     /* stay up, reaping orphans (the default) */
    EXIT_REBOOT,   /* sync + reboot(RB_AUTOBOOT): with reboot=k the VMM sees an i8042 reset */
    EXIT_POWEROFF, /* sync + reboot(RB_POWER_OFF) */
    EXIT_SHELL,    /* interactive busybox sh on the console, then reboot when it exits */
    EXIT_AGENT,    /* run the guest agent (/bin/flotilla-agent) and restart it whenever it dies */
};

struct init_options {
    enum exit_action exit_action;
    char run[4096]; /* flotilla.run: a command for busybox sh -c, empty when absent */
    int has_run;
};

/*
 * Reads the options from a kernel command line. Parameters are separated by spaces; a value
 * may be double-quoted to contain spaces (key="a b"), as the kernel's own parser allows.
 * Unknown parameters are ignored. Returns 0, or -1 with a message in err for an unknown
 * flotilla.exit value or a flotilla.run that does not fit.
 */
int cmdline_parse(const char *cmdline, struct init_options *out, char *err, size_t err_len);

const char *exit_action_name(enum exit_action action);

#endif
