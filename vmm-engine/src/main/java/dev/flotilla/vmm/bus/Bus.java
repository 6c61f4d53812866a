package dev.flotilla.vmm.bus;

import dev.flotilla.vmm.logging.RateLimitedLog;

import java.util.Arrays;

/**
 * An address space of devices: the port I/O space or the MMIO space of a VM. Ranges may not
 * overlap (registration fails naming both devices). Lookup is a binary search over an immutable
 * snapshot, allocation-free, safe from any vCPU thread while devices are being added.
 *
 * <p>An access that hits no device is ignored, as on real hardware: reads return all ones. It is
 * logged, through a rate limiter because the guest controls how often it happens.
 */
public final class Bus {

    private record Snapshot(long[] bases, long[] ends, BusDevice[] devices, String[] names) {}

    private final String name;
    private static final System.Logger LOGGER = System.getLogger(Bus.class.getName());

    /** Per bus, not per class: one guest probing ports does not silence another VM's lines. */
    private final RateLimitedLog unknownAccessLog = new RateLimitedLog(LOGGER, 10, 1);
    private volatile Snapshot snapshot = new Snapshot(new long[0], new long[0], new BusDevice[0], new String[0]);
    private volatile long unknownAccesses;

    /** {@code name} appears in log lines and errors: "port I/O" or "MMIO". */
    public Bus(String name) {
        this.name = name;
    }

    /** Adds {@code device} at {@code [base, base + length)}; refuses a range that overlaps another. */
    public synchronized void register(long base, long length, BusDevice device, String deviceName) {
        if (length <= 0 || base < 0 || base + length < base) {
            throw new IllegalArgumentException("%s range 0x%x+0x%x for %s is empty or wraps around"
                    .formatted(name, base, length, deviceName));
        }
        Snapshot s = snapshot;
        long end = base + length;
        int at = 0;
        while (at < s.bases.length && s.bases[at] < base) {
            at++;
        }
        if (at > 0 && s.ends[at - 1] > base) {
            throw overlap(base, end, deviceName, s, at - 1);
        }
        if (at < s.bases.length && s.bases[at] < end) {
            throw overlap(base, end, deviceName, s, at);
        }
        snapshot = new Snapshot(insert(s.bases, at, base), insert(s.ends, at, end),
                insert(s.devices, at, device), insert(s.names, at, deviceName));
    }

    private IllegalArgumentException overlap(long base, long end, String deviceName, Snapshot s, int other) {
        return new IllegalArgumentException("%s range [0x%x, 0x%x) for %s overlaps [0x%x, 0x%x) of %s"
                .formatted(name, base, end, deviceName, s.bases[other], s.ends[other], s.names[other]));
    }

    private static long[] insert(long[] a, int at, long v) {
        long[] r = new long[a.length + 1];
        System.arraycopy(a, 0, r, 0, at);
        r[at] = v;
        System.arraycopy(a, at, r, at + 1, a.length - at);
        return r;
    }

    private static <T> T[] insert(T[] a, int at, T v) {
        T[] r = Arrays.copyOf(a, a.length + 1);
        System.arraycopy(a, at, r, at + 1, a.length - at);
        r[at] = v;
        return r;
    }

    /** Reads {@code size} bytes at {@code address}; all ones when no device is there. */
    public long read(long address, int size) {
        Snapshot s = snapshot;
        int i = find(s, address);
        if (i < 0) {
            logUnknown("read", address, size, 0);
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return s.devices[i].read(address - s.bases[i], size);
    }

    /** Writes {@code size} bytes of {@code value} at {@code address}; dropped when no device is there. */
    public void write(long address, int size, long value) {
        Snapshot s = snapshot;
        int i = find(s, address);
        if (i < 0) {
            logUnknown("write", address, size, value);
            return;
        }
        s.devices[i].write(address - s.bases[i], size, value);
    }

    /** True when a device covers {@code address}. */
    public boolean isClaimed(long address) {
        return find(snapshot, address) >= 0;
    }

    /** How many accesses hit no device so far. */
    public long unknownAccesses() {
        return unknownAccesses;
    }

    private static int find(Snapshot s, long address) {
        long[] bases = s.bases;
        int lo = 0;
        int hi = bases.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (bases[mid] <= address) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return hi >= 0 && address < s.ends[hi] ? hi : -1;
    }

    private void logUnknown(String access, long address, int size, long value) {
        unknownAccesses++;
        if (unknownAccessLog.shouldLog()) {
            unknownAccessLog.debug(() -> "guest %s of %d bytes at %s 0x%x (value 0x%x) hit no device; ignored"
                    .formatted(access, size, name, address, value));
        }
    }
}
