#include "platform.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

struct mount_point {
    const char *source, *target, *type;
    unsigned long flags;
    const char *data;
};

static const struct mount_point MOUNTS[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
};

void platform_mount_all(void)
{
    for (size_t i = 0; i < sizeof(MOUNTS) / sizeof(MOUNTS[0]); i++) {
        const struct mount_point *m = &MOUNTS[i];
        if (mkdir(m->target, 0755) != 0 && errno != EEXIST) {
            log_msg("cannot create %s: %s", m->target, strerror(errno));
            continue;
        }
        /* EBUSY: already mounted (the kernel's DEVTMPFS_MOUNT, or a restarted init). */
        if (mount(m->source, m->target, m->type, m->flags, m->data) != 0 && errno != EBUSY)
            log_msg("cannot mount %s on %s: %s", m->type, m->target, strerror(errno));
    }
}

int platform_signal_boot_timer(void)
{
    int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    long page = sysconf(_SC_PAGESIZE);
    void *map = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)BOOT_TIMER_ADDRESS);
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED)
        return -saved;
    /* A single byte store: the VMM sees one MMIO write exit. */
    *(volatile uint8_t *)map = BOOT_TIMER_MAGIC;
    munmap(map, (size_t)page);
    return 0;
}

long platform_count_cpu_list(const char *list)
{
    long count = 0;
    const char *p = list;
    while (*p != '\0' && *p != '\n') {
        char *end;
        long first = strtol(p, &end, 10);
        if (end == p || first < 0)
            return -1;
        long last = first;
        p = end;
        if (*p == '-') {
            p++;
            last = strtol(p, &end, 10);
            if (end == p || last < first)
                return -1;
            p = end;
        }
        count += last - first + 1;
        if (*p == ',')
            p++;
        else if (*p != '\0' && *p != '\n')
            return -1;
    }
    return count > 0 ? count : -1;
}

long platform_online_cpus(void)
{
    char buf[256];
    int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            long count = platform_count_cpu_list(buf);
            if (count > 0)
                return count;
        }
    }
    return sysconf(_SC_NPROCESSORS_ONLN);
}

int platform_read_cmdline(char *buf, size_t len)
{
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf + total, len - 1 - total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += (size_t)n;
        if (total == len - 1)
            break;
    }
    close(fd);
    while (total > 0 && buf[total - 1] == '\n')
        total--;
    buf[total] = '\0';
    return 0;
}

void platform_power(int reboot_cmd)
{
    sync();
    if (reboot(reboot_cmd) != 0)
        log_msg("reboot(0x%x) failed: %s", reboot_cmd, strerror(errno));
}
