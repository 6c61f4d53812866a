/* What init needs from the machine: file systems, CPU count, the VMM's boot timer, power. */
#ifndef FLOTILLA_PLATFORM_H
#define FLOTILLA_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* Guest physical address of the VMM's boot-timer device and the value that stops it. */
#define BOOT_TIMER_ADDRESS 0xC0000000UL
#define BOOT_TIMER_MAGIC 123

/* Mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm and /tmp. Failures are logged. */
void platform_mount_all(void);

/* Writes BOOT_TIMER_MAGIC at BOOT_TIMER_ADDRESS through /dev/mem. Returns 0 or -errno. */
int platform_signal_boot_timer(void);

/* Online CPUs from /sys/devices/system/cpu/online, falling back to sysconf. */
long platform_online_cpus(void);

/* Reads /proc/cmdline into buf (NUL-terminated, trailing newline removed). Returns 0 or -errno. */
int platform_read_cmdline(char *buf, size_t len);

/* Counts the CPUs in a kernel CPU list such as "0-3,8,10-11"; -1 if malformed. */
long platform_count_cpu_list(const char *list);

/* sync + reboot(cmd); only returns if the kernel refused. */
void platform_power(int reboot_cmd);

#endif
