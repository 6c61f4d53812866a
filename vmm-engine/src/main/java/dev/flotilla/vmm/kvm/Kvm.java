package dev.flotilla.vmm.kvm;

import dev.flotilla.vmm.sys.KvmAbi;
import dev.flotilla.vmm.sys.Libc;
import dev.flotilla.vmm.sys.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The KVM system fd ({@code /dev/kvm}). Opening checks the API version; {@link #requireCapabilities}
 * turns a missing capability into a sentence naming it. One instance can create many VMs; close
 * it once they are created (VMs keep the module alive themselves).
 */
public final class Kvm implements AutoCloseable {

    public static final String DEVICE = "/dev/kvm";

    private final int fd;
    private final int vcpuMmapSize;
    /** KVM_GET_SUPPORTED_CPUID never changes while the fd is open: fetched once, on first use. */
    private volatile List<CpuidEntry> supportedCpuid;
    private volatile boolean closed;

    private Kvm(int fd) {
        this.fd = fd;
        try {
            int version = apiVersion();
            if (version != KvmAbi.KVM_API_VERSION) {
                throw new KvmException("%s speaks KVM API version %d, but Flotilla needs version %d"
                        .formatted(DEVICE, version, KvmAbi.KVM_API_VERSION));
            }
            vcpuMmapSize = Libc.ioctl(fd, KvmAbi.KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** Opens {@code /dev/kvm} (close-on-exec) and checks the API version. */
    public static Kvm open() {
        int fd;
        try {
            fd = Libc.open(DEVICE, Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (SyscallException e) {
            throw new KvmException("cannot open " + DEVICE + ": " + e.getMessage()
                    + " (is KVM loaded, and may this user open the device?)", e);
        }
        return new Kvm(fd);
    }

    /** KVM_GET_API_VERSION: 12 on every kernel since 2.6.22. */
    public int apiVersion() {
        return Libc.ioctl(fd, KvmAbi.KVM_GET_API_VERSION, "KVM_GET_API_VERSION");
    }

    /** KVM_CHECK_EXTENSION: 0 when unsupported, otherwise 1 or a capability-specific value. */
    public int checkExtension(KvmCapability capability) {
        return Libc.ioctl(fd, KvmAbi.KVM_CHECK_EXTENSION, capability.number(), "KVM_CHECK_EXTENSION");
    }

    /** Fails with a message naming the first capability this KVM lacks and what it is needed for. */
    public void requireCapabilities(KvmCapability... capabilities) {
        for (KvmCapability capability : capabilities) {
            if (checkExtension(capability) <= 0) {
                throw new KvmException("this host's KVM lacks %s (%d), which Flotilla needs for %s"
                        .formatted(capability.kernelName(), capability.number(), capability.purpose()));
            }
        }
    }

    /** KVM_GET_VCPU_MMAP_SIZE: bytes to map of each vCPU fd (kvm_run and what follows it). */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can present to a guest on this host (cached). */
    public List<CpuidEntry> supportedCpuid() {
        List<CpuidEntry> cached = supportedCpuid;
        if (cached == null) {
            cached = fetchSupportedCpuid();
            supportedCpuid = cached;
        }
        return cached;
    }

    private List<CpuidEntry> fetchSupportedCpuid() {
        try (Arena arena = Arena.ofConfined()) {
            int max = KvmAbi.Cpuid2.MAX_ENTRIES;
            MemorySegment buf = arena.allocate(KvmAbi.Cpuid2.ENTRIES + max * KvmAbi.CpuidEntry2.LAYOUT.byteSize(), 8);
            buf.set(ValueLayout.JAVA_INT, KvmAbi.Cpuid2.NENT, max);
            Libc.ioctl(fd, KvmAbi.KVM_GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
            int n = buf.get(ValueLayout.JAVA_INT, KvmAbi.Cpuid2.NENT);
            List<CpuidEntry> entries = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long e = KvmAbi.Cpuid2.ENTRIES + i * KvmAbi.CpuidEntry2.LAYOUT.byteSize();
                entries.add(new CpuidEntry(
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.FUNCTION),
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.INDEX),
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.FLAGS),
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.EAX),
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.EBX),
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.ECX),
                        buf.get(ValueLayout.JAVA_INT, e + KvmAbi.CpuidEntry2.EDX)));
            }
            return List.copyOf(entries);
        }
    }

    /** KVM_CREATE_VM (machine type 0). */
    public KvmVm createVm() {
        int vmFd = Libc.ioctl(fd, KvmAbi.KVM_CREATE_VM, 0L, "KVM_CREATE_VM");
        return new KvmVm(vmFd, vcpuMmapSize);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }
}
