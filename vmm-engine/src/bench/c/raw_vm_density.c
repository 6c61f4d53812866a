/*
 * Raw-ioctl baseline for `./flotilla bench vm-density`: the minimum a VMM must do per VM, in C,
 * so that the Java engine's creation rate and memory per VM can be compared with it.
 *
 * Per VM: KVM_CREATE_VM, KVM_SET_TSS_ADDR, KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 (a VMM that boots
 * stock Linux guests needs both: the kernel's IO-APIC timer check and its TSC calibration use the
 * i8254 on IRQ 0, which is why Firecracker and QEMU microvm create it too, and KVM runs it on a
 * kernel thread per VM), one anonymous guest memory slot, KVM_CREATE_VCPU, mmap of
 * kvm_run, real-mode registers, then KVM_RUN until the guest's `out 0x10, al`, after which the guest
 * halts with interrupts off. Every VM stays alive until the end, so the memory figure is what N live
 * VMs cost.
 *
 * Mode "threads" (the default) runs each vCPU on its own thread (smallest stack glibc allows), which
 * stays in KVM_RUN while the guest halts: a running VM, as the Java engine's are, and as any VMM
 * must keep it (a vCPU is only running while a thread is inside KVM_RUN for it). Mode "inline" runs
 * each guest on the main thread up to its port write and never enters KVM_RUN again: the guests are
 * frozen, which is cheaper than any VMM that runs them (this was the baseline before 2026-11-22).
 *
 * Usage: raw_vm_density COUNT GUEST_MEM_KIB [threads|inline]
 * Prints one line of key=value pairs: host_kib_per_vm is the fall in MemAvailable, rss_kib_per_vm the rise
 * in this process's VmRSS, kernel_kib_per_vm the rise in Slab + KernelStack + PageTables + SecPageTables +
 * VmallocUsed (host-wide, like MemAvailable, but hardly moved by other processes' user memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long mem_available_kib(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %ld kB", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

/* Kernel-side memory host-wide (slab, kernel stacks, page tables, vmalloc): what KVM objects and
 * threads cost the kernel, much less disturbed by other processes' user memory than MemAvailable. */
static long kernel_kib(void) {
    static const char *keys[] = {"Slab:", "KernelStack:", "PageTables:", "SecPageTables:", "VmallocUsed:"};
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long total = 0;
    while (f && fgets(line, sizeof line, f))
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t n = strlen(keys[k]);
            if (strncmp(line, keys[k], n) == 0) total += atol(line + n);
        }
    if (f) fclose(f);
    return total;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static atomic_int signalled;

struct vcpu_thread {
    int index;
    int fd;
    struct kvm_run *run;
};

/* A vCPU thread: runs the guest to its port write, counts it, then keeps it running (halted). */
static void *vcpu_main(void *arg) {
    struct vcpu_thread *t = arg;
    for (;;) {
        if (ioctl(t->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "KVM_RUN failed at vm %d: %s\n", t->index, strerror(errno));
            exit(1);
        }
        if (t->run->exit_reason == KVM_EXIT_IO && t->run->io.port == 0x10) {
            atomic_fetch_add(&signalled, 1);
            continue;
        }
        fprintf(stderr, "vm %d: unexpected exit %u\n", t->index, t->run->exit_reason);
        exit(1);
    }
    return NULL;
}

#define CHECK(call, what) do { if ((call) < 0) { fprintf(stderr, "%s failed at vm %d: %s\n", what, i, strerror(errno)); exit(1); } } while (0)

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "threads") != 0 && strcmp(argv[3], "inline") != 0)) {
        fprintf(stderr, "usage: %s COUNT GUEST_MEM_KIB [threads|inline]\n", argv[0]);
        return 2;
    }
    int threads = argc == 3 || strcmp(argv[3], "threads") == 0;
    int count = atoi(argv[1]);
    size_t mem_size = (size_t)atol(argv[2]) * 1024;
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) { perror("open /dev/kvm"); return 1; }
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    /* mov al, 0x42; out 0x10, al; cli; 1: hlt; jmp 1b */
    static const unsigned char code[] = {0xB0, 0x42, 0xE6, 0x10, 0xFA, 0xF4, 0xEB, 0xFD};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
    struct vcpu_thread *vcpus = calloc(count, sizeof *vcpus);
    if (vcpus == NULL) { perror("calloc"); return 1; }

    long avail_before = mem_available_kib();
    long rss_before = rss_kib();
    long kernel_before = kernel_kib();
    double start = now();
    for (int i = 0; i < count; i++) {
        int vm;
        CHECK(vm = ioctl(kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
        CHECK(ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000UL), "KVM_SET_TSS_ADDR");
        CHECK(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
        struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
        CHECK(ioctl(vm, KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");
        void *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) { perror("mmap guest memory"); return 1; }
        memcpy((char *)mem + 0x1000, code, sizeof code);
        struct kvm_userspace_memory_region region = {
            .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (unsigned long)mem};
        CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
        int vcpu;
        CHECK(vcpu = ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
        struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED) { perror("mmap kvm_run"); return 1; }
        struct kvm_sregs sregs;
        CHECK(ioctl(vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        CHECK(ioctl(vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
        struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
        CHECK(ioctl(vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
        if (threads) {
            vcpus[i] = (struct vcpu_thread){.index = i, .fd = vcpu, .run = run};
            pthread_t thread;
            int rc = pthread_create(&thread, &attr, vcpu_main, &vcpus[i]);
            if (rc != 0) { fprintf(stderr, "pthread_create failed at vm %d: %s\n", i, strerror(rc)); return 1; }
            continue;
        }
        for (;;) {
            CHECK(ioctl(vcpu, KVM_RUN, 0), "KVM_RUN");
            if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x10) break;
            if (run->exit_reason != KVM_EXIT_IO) {
                fprintf(stderr, "vm %d: unexpected exit %u\n", i, run->exit_reason);
                return 1;
            }
        }
    }
    while (threads && atomic_load(&signalled) < count) {
        if (now() - start > 600) { fprintf(stderr, "only %d of %d guests signalled\n", atomic_load(&signalled), count); return 1; }
        sched_yield();
    }
    double elapsed = now() - start;
    long avail_after = mem_available_kib();
    long rss_after = rss_kib();
    long kernel_after = kernel_kib();
    printf("vcpu_threads=%d count=%d seconds=%.3f rate=%.1f host_kib_per_vm=%.1f rss_kib_per_vm=%.1f kernel_kib_per_vm=%.1f\n", threads ? count : 0, count,
           elapsed, count / elapsed, (double)(avail_before - avail_after) / count, (double)(rss_after - rss_before) / count,
           (double)(kernel_after - kernel_before) / count);
    return 0;
}
