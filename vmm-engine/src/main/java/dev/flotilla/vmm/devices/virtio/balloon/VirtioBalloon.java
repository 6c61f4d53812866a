package dev.flotilla.vmm.devices.virtio.balloon;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;
import dev.flotilla.vmm.sys.Libc;

import java.lang.foreign.MemorySegment;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * virtio-balloon, the traditional memory balloon (virtio 1.2 §5.5), returning guest memory to the
 * host:
 * <ul>
 *   <li><b>Inflate / deflate</b>: the host sets a target ({@link #setTargetMiB}: the balloon's
 *       size, i.e. memory taken away from the guest); the driver gives that many 4 KiB pages back
 *       through the inflate queue and the device drops them from the host with
 *       madvise(MADV_DONTNEED), so the VM's resident memory shrinks. A page touched again later
 *       comes back zero-filled. Deflated pages need nothing (MUST_TELL_HOST is not offered).</li>
 *   <li><b>Statistics</b> (STATS_VQ): the driver keeps one buffer of tag/value pairs in the
 *       stats queue; every interval the device returns it, which asks the driver for fresh
 *       numbers, and parses what comes back ({@link #stats()}).</li>
 *   <li><b>Free page reporting</b> (REPORTING): the guest reports free ranges (device-writable
 *       buffers, 2 MiB or more each) on its own; the device drops them from the host too and
 *       returns them. Memory the guest freed (a deleted tmpfs file, an exited process) goes back
 *       without any host action.</li>
 * </ul>
 * DEFLATE_ON_OOM is offered when configured: the guest may then shrink the balloon under memory
 * pressure instead of invoking its OOM killer.
 */
public final class VirtioBalloon implements VirtioDevice {

    public static final int DEVICE_TYPE = 5;
    public static final int QUEUE_SIZE = 256;
    public static final int F_STATS_VQ = 1;
    public static final int F_DEFLATE_ON_OOM = 2;
    public static final int F_REPORTING = 5;
    /** Config space: le32 num_pages, le32 actual, le32 free_page_hint_cmd_id, le32 poison_val. */
    public static final int CONFIG_SIZE = 16;
    public static final int INFLATE = 0;
    public static final int DEFLATE = 1;
    private static final int STAT_ENTRY = 10;
    private static final long PAGES_PER_MIB = (1 << 20) / PfnRanges.PAGE_SIZE;

    private static final RateLimitedLog LOG = RateLimitedLog.forClass(VirtioBalloon.class);

    private final DeviceEnvironment environment;
    private final String name;
    private final long statsIntervalNanos;
    private final boolean deflateOnOom;
    private final boolean reporting;
    private final Runnable configChanged;
    private final Runnable armStats;
    private final PfnRanges.Result pfnResult = new PfnRanges.Result();
    private final PfnRanges.RangeSink discard = this::discard;
    private final long[] statValues = new long[BalloonStats.TAG_COUNT];
    private final boolean[] statPresent = new boolean[BalloonStats.TAG_COUNT];
    private final byte[] statEntry = new byte[STAT_ENTRY];

    private volatile long targetPages;
    private volatile long actualPages;
    private volatile BalloonStats stats;
    private final AtomicLong inflatedPages = new AtomicLong();
    private final AtomicLong deflatedPages = new AtomicLong();
    private final AtomicLong reportedBytes = new AtomicLong();
    private final AtomicLong discardFailures = new AtomicLong();
    private final AtomicLong statsUpdates = new AtomicLong();
    private final Map<BalloonRejection, AtomicLong> rejections = new EnumMap<>(BalloonRejection.class);

    // Activation state (event loop / vCPU MMIO path, transport lock held).
    private GuestMemory memory;
    private VirtioInterrupt interrupt;
    private Virtqueue[] queues = new Virtqueue[0];
    private int statsIndex = -1;
    private int reportingIndex = -1;
    private DescriptorChain statsChain;
    private boolean statsHeld;
    /** Bumped by activate/reset, so a timer armed for an earlier driver does nothing. */
    private long generation;

    /**
     * @param statsIntervalNanos how often to ask for statistics; 0 leaves STATS_VQ unoffered
     */
    public VirtioBalloon(DeviceEnvironment environment, String name, long statsIntervalNanos, boolean deflateOnOom,
                         boolean reporting) {
        if (statsIntervalNanos < 0) {
            throw new IllegalArgumentException("stats interval must not be negative");
        }
        this.environment = Objects.requireNonNull(environment);
        this.name = Objects.requireNonNull(name);
        this.statsIntervalNanos = statsIntervalNanos;
        this.deflateOnOom = deflateOnOom;
        this.reporting = reporting;
        for (BalloonRejection r : BalloonRejection.values()) {
            rejections.put(r, new AtomicLong());
        }
        this.configChanged = environment.onLoop(() -> {
            if (interrupt != null) {
                interrupt.signalConfigChange();
            }
        });
        long[] armedFor = {-1};
        this.armStats = environment.onLoop(() -> {
            if (memory != null && statsIndex >= 0 && armedFor[0] != generation) {
                armedFor[0] = generation;
                scheduleStats(generation);
            }
        });
    }

    // ---------------------------------------------------------------- host API

    /**
     * Sets the balloon's target size: {@code mib} MiB the guest should give back (0 deflates it
     * completely). Any thread. The driver hears of it through a configuration change interrupt.
     */
    public void setTargetMiB(long mib) {
        GuestMemory m = memory;
        if (mib < 0 || (m != null && mib * PAGES_PER_MIB > m.totalSize() / PfnRanges.PAGE_SIZE)) {
            throw new IllegalArgumentException("balloon target %d MiB is outside 0..%d MiB of guest memory"
                    .formatted(mib, m == null ? 0 : m.totalSize() >> 20));
        }
        if (mib > 0xffff_ffffL / PAGES_PER_MIB) {
            throw new IllegalArgumentException("balloon target %d MiB does not fit the 32-bit page count".formatted(mib));
        }
        targetPages = mib * PAGES_PER_MIB;
        configChanged.run();
    }

    /** The target in 4 KiB pages (config num_pages). */
    public long targetPages() {
        return targetPages;
    }

    /** Pages the driver says the balloon holds (config actual, written by the driver). */
    public long actualPages() {
        return actualPages;
    }

    /** The latest statistics, once the guest has sent any. */
    public Optional<BalloonStats> stats() {
        return Optional.ofNullable(stats);
    }

    // ---------------------------------------------------------------- VirtioDevice

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long offeredFeatures() {
        return VirtioFeatures.QUEUE_FEATURES
                | (statsIntervalNanos > 0 ? bit(F_STATS_VQ) : 0)
                | (deflateOnOom ? bit(F_DEFLATE_ON_OOM) : 0)
                | (reporting ? bit(F_REPORTING) : 0);
    }

    /** inflateq, deflateq, then statsq and reporting_vq when offered (Linux numbers only the queues it uses). */
    @Override
    public int queueCount() {
        return 2 + (statsIntervalNanos > 0 ? 1 : 0) + (reporting ? 1 : 0);
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = value << 8 | configByte(offset + i);
        }
        return value;
    }

    private int configByte(int at) {
        long field = switch (at >> 2) {
            case 0 -> targetPages;
            case 1 -> actualPages;
            default -> 0;
        };
        return (int) (field >>> (8 * (at & 3))) & 0xff;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // §5.5.4: the driver writes actual (le32 at 4); everything else is read-only.
        if (offset == 4 && size == 4) {
            actualPages = value & 0xffff_ffffL;
        }
    }

    @Override
    public void activate(List<Virtqueue> queues, long negotiated, GuestMemory memory, VirtioInterrupt interrupt) {
        this.memory = memory;
        this.interrupt = interrupt;
        this.queues = queues.toArray(new Virtqueue[0]);
        // The queue after deflateq is statsq only if STATS_VQ was negotiated (§5.5.2).
        int next = 2;
        statsIndex = VirtioFeatures.has(negotiated, F_STATS_VQ) ? next++ : -1;
        reportingIndex = VirtioFeatures.has(negotiated, F_REPORTING) ? next++ : -1;
        Virtqueue statsQueue = statsIndex >= 0 && statsIndex < this.queues.length ? this.queues[statsIndex] : null;
        statsChain = statsQueue == null ? null : statsQueue.newChain();
        if (statsChain == null) {
            statsIndex = -1;
        }
        statsHeld = false;
        generation++;
        armStats.run();
        // Linux queues its first stats buffer and kicks during probe, before DRIVER_OK; that kick
        // was ignored by the transport, so look at every queue once now.
        for (int i = 0; i < this.queues.length; i++) {
            processQueue(i);
        }
    }

    @Override
    public void processQueue(int index) {
        if (memory == null || index < 0 || index >= queues.length || queues[index] == null) {
            return;
        }
        Virtqueue q = queues[index];
        try {
            if (index == INFLATE || index == DEFLATE) {
                pfnRequests(q, index == INFLATE);
            } else if (index == statsIndex) {
                statsArrived(q);
            } else if (index == reportingIndex) {
                freePageReports(q);
            }
        } catch (GuestMemoryException e) {
            if (LOG.shouldLog()) {
                LOG.warn("virtio-balloon %s: %s".formatted(name, e.getMessage()));
            }
        }
        if (q.finishBatch()) {
            interrupt.signalUsedBuffers();
        }
    }

    @Override
    public void reset() {
        memory = null;
        interrupt = null;
        queues = new Virtqueue[0];
        statsIndex = -1;
        reportingIndex = -1;
        statsChain = null;
        statsHeld = false;
        actualPages = 0;
        generation++;
    }

    // ---------------------------------------------------------------- queues

    private void pfnRequests(Virtqueue q, boolean inflate) {
        DescriptorChain chain;
        while ((chain = q.pop()) != null) {
            BalloonRejection r = PfnRanges.parse(chain, memory, inflate ? discard : (gpa, length) -> {}, pfnResult);
            if (r != null) {
                count(r);
            } else {
                if (pfnResult.outsideMemory() > 0) {
                    rejections.get(BalloonRejection.PFN_OUTSIDE_MEMORY).addAndGet(pfnResult.outsideMemory());
                    log(BalloonRejection.PFN_OUTSIDE_MEMORY);
                }
                (inflate ? inflatedPages : deflatedPages).addAndGet(pfnResult.pages());
            }
            q.pushUsed(chain, 0);
        }
    }

    private void freePageReports(Virtqueue q) {
        DescriptorChain chain;
        while ((chain = q.pop()) != null) {
            if (chain.readableCount() > 0) {
                count(BalloonRejection.REPORT_READABLE_BUFFER);
                q.pushUsed(chain, 0);
                continue;
            }
            for (int i = chain.firstWritable(); i < chain.count(); i++) {
                long start = chain.address(i);
                long end = start + Integer.toUnsignedLong(chain.length(i));
                long alignedStart = (start + PfnRanges.PAGE_SIZE - 1) & -PfnRanges.PAGE_SIZE;
                long alignedEnd = end & -PfnRanges.PAGE_SIZE;
                if (alignedStart != start || alignedEnd != end) {
                    count(BalloonRejection.REPORT_UNALIGNED);
                }
                if (alignedEnd > alignedStart) {
                    discard(alignedStart, alignedEnd - alignedStart);
                    reportedBytes.addAndGet(alignedEnd - alignedStart);
                }
            }
            // §5.5.6.5: the device returns reported buffers once it has processed them; it writes nothing.
            q.pushUsed(chain, 0);
        }
    }

    private void statsArrived(Virtqueue q) {
        if (statsHeld) {
            // The driver posted another buffer while we held one: give the old one back first.
            q.pushUsed(statsChain, 0);
            statsHeld = false;
        }
        // Hold the buffer: returning it at the next interval is how the device asks for fresh numbers.
        if (q.pop(statsChain)) {
            parseStats(statsChain);
            statsHeld = true;
        }
    }

    private void parseStats(DescriptorChain chain) {
        if (chain.writableCount() > 0) {
            count(BalloonRejection.UNEXPECTED_WRITABLE_BUFFER);
            return;
        }
        long bytes = chain.readableBytes();
        if (bytes % STAT_ENTRY != 0 || bytes / STAT_ENTRY > 64) {
            count(BalloonRejection.STATS_NOT_WHOLE);
            return;
        }
        java.util.Arrays.fill(statPresent, false);
        byte[] entry = statEntry;
        int filled = 0;
        for (int i = 0; i < chain.readableCount(); i++) {
            long address = chain.address(i);
            long remaining = Integer.toUnsignedLong(chain.length(i));
            while (remaining > 0) {
                int n = (int) Math.min(remaining, STAT_ENTRY - filled);
                memory.read(address, entry, filled, n);
                filled += n;
                address += n;
                remaining -= n;
                if (filled == STAT_ENTRY) {
                    int tag = (entry[0] & 0xff) | (entry[1] & 0xff) << 8;
                    long value = 0;
                    for (int b = 9; b >= 2; b--) {
                        value = value << 8 | (entry[b] & 0xff);
                    }
                    if (tag < BalloonStats.TAG_COUNT) {
                        statValues[tag] = value;
                        statPresent[tag] = true;
                    }
                    filled = 0;
                }
            }
        }
        stats = BalloonStats.of(statValues, statPresent, environment.nanoTime());
        statsUpdates.incrementAndGet();
    }

    /** Timer: hand the held stats buffer back, which asks the driver for a fresh one. */
    private void scheduleStats(long forGeneration) {
        environment.schedule(statsIntervalNanos, () -> {
            if (generation != forGeneration || memory == null) {
                return;
            }
            requestStatsNow();
            scheduleStats(forGeneration);
        });
    }

    private void requestStatsNow() {
        if (!statsHeld || statsIndex < 0) {
            return;
        }
        Virtqueue q = queues[statsIndex];
        statsHeld = false;
        q.pushUsed(statsChain, 0);
        if (q.finishBatch()) {
            interrupt.signalUsedBuffers();
        }
    }

    /** Drops {@code [gpa, gpa + length)} from the host: the pages read back as zeros. */
    private void discard(long gpa, long length) {
        try {
            MemorySegment range = memory.slice(gpa, length);
            if (range.isNative()) {
                Libc.madvise(range, Libc.MADV_DONTNEED);
            } else {
                range.fill((byte) 0); // heap-backed test memory: the same observable effect
            }
        } catch (RuntimeException e) {
            discardFailures.incrementAndGet();
            if (LOG.shouldLog()) {
                LOG.warn("virtio-balloon %s: could not release %d bytes at %#x: %s".formatted(name, length, gpa, e.getMessage()));
            }
        }
    }

    private void count(BalloonRejection r) {
        rejections.get(r).incrementAndGet();
        log(r);
    }

    private void log(BalloonRejection r) {
        if (LOG.shouldLog()) {
            LOG.warn("virtio-balloon %s: %s".formatted(name, r.description()));
        }
    }

    // ---------------------------------------------------------------- observation

    public long inflatedPages() {
        return inflatedPages.get();
    }

    public long deflatedPages() {
        return deflatedPages.get();
    }

    public long reportedBytes() {
        return reportedBytes.get();
    }

    public long statsUpdates() {
        return statsUpdates.get();
    }

    public long discardFailures() {
        return discardFailures.get();
    }

    public long rejections(BalloonRejection reason) {
        return rejections.get(reason).get();
    }

    public String name() {
        return name;
    }
}
