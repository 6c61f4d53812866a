package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.devices.virtio.DeviceEnvironment;
import dev.flotilla.vmm.logging.RateLimitedLog;
import dev.flotilla.vmm.devices.virtio.VirtioDevice;
import dev.flotilla.vmm.devices.virtio.VirtioFeatures;
import dev.flotilla.vmm.devices.virtio.VirtioInterrupt;
import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.devices.virtio.queue.Virtqueue;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.GuestMemoryException;
import dev.flotilla.vmm.sys.Iovec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;

import static dev.flotilla.vmm.devices.virtio.VirtioFeatures.bit;

/**
 * virtio-blk (virtio 1.2 §5.2) over a raw image file: one request queue; read, write, flush,
 * GET_ID (serial), discard and write-zeroes; an optional read-only mode and rate limiter.
 *
 * <p>Request flow: on a kick the event loop pops every available chain into a per-slot
 * {@link BlockRequest}, parses it ({@link BlockRequestParser}; a malformed request is completed
 * at once with IOERR or UNSUPP), takes tokens from the {@link RateLimiter}, and does the file I/O
 * itself when it cannot wait for a device (the file is in memory, or a read finds its data in the
 * page cache: preadv2 RWF_NOWAIT), sparing two thread hops; other I/O goes to the VM's blocking
 * executor, so a slow disk never stalls the loop. Only the last such read of a pass is done on
 * the loop: the ones before it go to I/O threads, so the reads a driver queues together are
 * copied in parallel, not one after the other (writes to one file would only queue for its inode
 * lock). The 1,024-entry queue lets Linux send a 1 MiB transfer as one request: one pass and one
 * interrupt per MiB. Finished requests queue up; the I/O thread that finishes
 * first in a burst takes the transport's lock and completes them all (status bytes, used ring, one
 * interrupt), then pops what the driver queued meanwhile; with a rate limiter that last step can
 * need a timer, so there the burst goes back to the event loop instead.
 * When the limiter says no, the request waits and a timer on the loop resumes the queue.
 */
public final class VirtioBlock implements VirtioDevice, AutoCloseable {

    /** §5.2.1: Device ID 2, "Block device". */
    public static final int DEVICE_TYPE = 2;
    /**
     * Ring entries, QEMU's largest. It sets seg_max ({@link BlockLimits#SEG_MAX}): at 256 Linux split
     * every 1 MiB O_DIRECT transfer into two requests (254 pages each at most), so two interrupts
     * and two loop passes per MiB. Request slots grow their descriptor arrays only when used.
     */
    public static final int QUEUE_SIZE = 1024;

    // §5.2.3 feature bits.
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    /** §5.2.4 struct virtio_blk_config, up to write_zeroes_may_unmap and its padding. */
    public static final int CONFIG_SIZE = 60;
    /** Discards aligned to 4 KiB: the granularity file systems punch holes in. */
    public static final int DISCARD_ALIGNMENT_SECTORS = 8;

    private static final RateLimitedLog LOG = RateLimitedLog.forClass(VirtioBlock.class);

    private final RawFileBackend backend;
    private final byte[] serial = new byte[BlockLimits.ID_BYTES];
    private final DeviceEnvironment environment;
    private final RateLimiter limiter;
    private final byte[] config = new byte[CONFIG_SIZE];
    private final long offered;
    private final String name;
    private Active active;

    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicLong bytesWritten = new AtomicLong();
    private final AtomicLong ioErrors = new AtomicLong();
    private final AtomicLong inlineRequests = new AtomicLong();
    private final Map<BlockRejection, AtomicLong> rejections = new EnumMap<>(BlockRejection.class);

    /**
     * @param serial at most 20 bytes of ASCII, returned by GET_ID (Linux: /sys/block/vda/serial)
     */
    public VirtioBlock(RawFileBackend backend, String serial, RateLimiter limiter, DeviceEnvironment environment, String name) {
        this.backend = Objects.requireNonNull(backend);
        this.environment = Objects.requireNonNull(environment);
        this.limiter = Objects.requireNonNull(limiter);
        this.name = Objects.requireNonNull(name);
        byte[] id = serial.getBytes(StandardCharsets.US_ASCII);
        if (id.length > BlockLimits.ID_BYTES) {
            throw new IllegalArgumentException("a virtio-blk serial has at most 20 bytes: " + serial);
        }
        System.arraycopy(id, 0, this.serial, 0, id.length);
        for (BlockRejection r : BlockRejection.values()) {
            rejections.put(r, new AtomicLong());
        }
        long features = VirtioFeatures.QUEUE_FEATURES | bit(F_SIZE_MAX) | bit(F_SEG_MAX) | bit(F_BLK_SIZE) | bit(F_FLUSH);
        features |= backend.readOnly() ? bit(F_RO) : bit(F_DISCARD) | bit(F_WRITE_ZEROES);
        offered = features;
        putLong(0, backend.capacitySectors());
        putInt(8, BlockLimits.SIZE_MAX);
        putInt(12, BlockLimits.SEG_MAX);
        putInt(20, BlockLimits.SECTOR_SIZE);
        putInt(36, BlockLimits.MAX_SEGMENT_SECTORS);   // max_discard_sectors
        putInt(40, BlockLimits.MAX_SEGMENTS);          // max_discard_seg
        putInt(44, DISCARD_ALIGNMENT_SECTORS);         // discard_sector_alignment
        putInt(48, BlockLimits.MAX_SEGMENT_SECTORS);   // max_write_zeroes_sectors
        putInt(52, BlockLimits.MAX_SEGMENTS);          // max_write_zeroes_seg
        config[56] = 1;                                // write_zeroes_may_unmap
    }

    private void putInt(int offset, int value) {
        for (int i = 0; i < 4; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private void putLong(int offset, long value) {
        for (int i = 0; i < 8; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    // ---------------------------------------------------------------- VirtioDevice

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long offeredFeatures() {
        return offered;
    }

    @Override
    public int queueCount() {
        return 1;
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
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (config[offset + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // Read-only config: CONFIG_WCE (the writeback toggle) is not offered.
    }

    @Override
    public void activate(List<Virtqueue> queues, long negotiatedFeatures, GuestMemory memory, VirtioInterrupt interrupt) {
        Virtqueue q = queues.getFirst();
        if (q == null) {
            return;
        }
        BlockLimits limits = new BlockLimits(backend.capacitySectors(), backend.readOnly(),
                VirtioFeatures.has(negotiatedFeatures, F_FLUSH), VirtioFeatures.has(negotiatedFeatures, F_DISCARD),
                VirtioFeatures.has(negotiatedFeatures, F_WRITE_ZEROES));
        active = new Active(q, memory, interrupt, limits);
    }

    @Override
    public void processQueue(int index) {
        Active a = active;
        if (a != null && index == 0) {
            a.pump();
        }
    }

    @Override
    public void reset() {
        // Requests still on the executor finish against the old activation and are dropped.
        active = null;
    }

    @Override
    public void close() throws IOException {
        backend.close();
    }

    // ---------------------------------------------------------------- one activation

    /** Queue state from DRIVER_OK to reset; a stale one (after a reset) drops its completions. */
    private final class Active {
        final Virtqueue queue;
        final GuestMemory memory;
        final VirtioInterrupt interrupt;
        final BlockLimits limits;
        final Slot[] slots;
        final int[] free;
        int freeCount;
        /** Indices of slots whose I/O finished, filled by executor threads. Guarded by itself. */
        final int[] completed;
        int completedCount;
        /** Drained into by the loop, so executor threads can keep appending meanwhile. */
        final int[] draining;
        final Runnable completionTrigger;
        final Runnable retry = this::retryThrottled;
        Slot throttled;
        /** The pass's latest read that the loop may do itself, once the pass has popped the rest (see pump). */
        Slot held;
        boolean retryScheduled;

        Active(Virtqueue queue, GuestMemory memory, VirtioInterrupt interrupt, BlockLimits limits) {
            this.queue = queue;
            this.memory = memory;
            this.interrupt = interrupt;
            this.limits = limits;
            int n = queue.size();
            slots = new Slot[n];
            free = new int[n];
            for (int i = 0; i < n; i++) {
                slots[i] = new Slot(this, i, new BlockRequest(queue.newChain()));
                free[i] = n - 1 - i;
            }
            freeCount = n;
            completed = new int[n];
            draining = new int[n];
            // Without a rate limiter a completion never needs a loop timer, so the I/O thread that
            // finishes a burst completes it itself, under the transport's lock; with one, the
            // drain may schedule a retry, which only the loop can.
            completionTrigger = limiter.isUnlimited()
                    ? environment.underLock(this::drainCompletions)
                    : environment.onLoop(this::drainCompletions);
        }

        /** Pops and starts every available request (transport lock held: the loop, or an I/O thread completing a burst). */
        void pump() {
            if (active != this) {
                return;
            }
            if (throttled != null) {
                if (!tryStart(throttled)) {
                    scheduleRetry(throttled);
                    finish();
                    return;
                }
                throttled = null;
            }
            while (freeCount > 0) {
                Slot slot = slots[free[freeCount - 1]];
                if (!queue.pop(slot.request.chain)) {
                    break;
                }
                freeCount--;
                requests.incrementAndGet();
                BlockRejection rejection = BlockRequestParser.parse(slot.request, memory, limits);
                if (rejection != null) {
                    reject(slot, rejection);
                    continue;
                }
                if (!tryStart(slot)) {
                    throttled = slot;
                    scheduleRetry(slot);
                    break;
                }
            }
            startHeld();
            finish();
        }

        private void finish() {
            if (queue.finishBatch()) {
                interrupt.signalUsedBuffers();
            }
        }

        private void scheduleRetry(Slot slot) {
            if (!retryScheduled) {
                retryScheduled = true;
                long now = environment.nanoTime();
                environment.schedule(limiter.nanosUntilAvailable(cost(slot.request), now), retry);
            }
        }

        private void retryThrottled() {
            retryScheduled = false;
            pump();
        }

        private long cost(BlockRequest r) {
            return r.type == BlockRequest.T_IN || r.type == BlockRequest.T_OUT ? r.dataLength : 0;
        }

        /** Starts the request unless the limiter refuses it now. */
        private boolean tryStart(Slot slot) {
            if (!limiter.isUnlimited() && !limiter.tryAcquire(cost(slot.request), environment.nanoTime())) {
                return false;
            }
            if (slot.request.type == BlockRequest.T_GET_ID) {
                // No I/O: answer from the loop.
                slot.request.resultStatus = writeId(slot.request);
                complete(slot);
                return true;
            }
            if (mayBeDoneInline(slot.request)) {
                // Writes to one file take its inode lock in turn, so copying two at once gains nothing: done now.
                if (slot.request.type == BlockRequest.T_OUT && doneInline(memory, slot.request)) {
                    complete(slot);
                    return true;
                }
                // A read is held until the pass has popped everything: a read popped after it sends this one to an I/O thread.
                if (held != null) {
                    dispatch(held);
                }
                held = slot;
                return true;
            }
            dispatch(slot);
            return true;
        }

        /** The pass's last inline candidate: done here if it cannot wait for a device, else on an I/O thread. */
        private void startHeld() {
            Slot slot = held;
            if (slot == null) {
                return;
            }
            held = null;
            if (doneInline(memory, slot.request)) {
                complete(slot);
            } else {
                dispatch(slot);
            }
        }

        private void dispatch(Slot slot) {
            try {
                environment.blockingExecutor().execute(slot);
            } catch (RejectedExecutionException e) {
                // The VM is shutting down; the request is never completed, as the guest is going away.
                release(slot);
            }
        }

        private void reject(Slot slot, BlockRejection rejection) {
            rejections.get(rejection).incrementAndGet();
            if (LOG.shouldLog()) {
                LOG.warn("virtio-blk %s: %s (request type %d, sector %d)".formatted(
                        name, rejection.description(), slot.request.type, slot.request.sector));
            }
            slot.request.resultStatus = rejection.status();
            slot.request.writtenToGuest = 0;
            complete(slot);
        }

        /** Writes the status byte and returns the chain to the driver (loop thread). */
        private void complete(Slot slot) {
            BlockRequest r = slot.request;
            int used = 0;
            if (r.resultStatus != BlockRejection.Status.NONE) {
                try {
                    memory.writeByte(r.statusAddress, (byte) r.resultStatus);
                    used = r.writtenToGuest + 1;
                } catch (GuestMemoryException e) {
                    used = 0;
                }
            }
            queue.pushUsed(r.chain, used);
            release(slot);
        }

        private void release(Slot slot) {
            free[freeCount++] = slot.index;
        }

        /** Executor thread: the I/O of {@code slot} is done. */
        void ioDone(Slot slot) {
            boolean first;
            synchronized (completed) {
                completed[completedCount++] = slot.index;
                first = completedCount == 1;
            }
            if (first) {
                completionTrigger.run();
            }
        }

        /**
         * Transport lock held (an I/O thread's or the loop's): completes every finished request,
         * one interrupt for all, then starts what the ring holds.
         */
        void drainCompletions() {
            int n;
            synchronized (completed) {
                n = completedCount;
                System.arraycopy(completed, 0, draining, 0, n);
                completedCount = 0;
            }
            if (active != this) {
                return;
            }
            for (int i = 0; i < n; i++) {
                complete(slots[draining[i]]);
            }
            // Slots came free and kicks may have been suppressed while busy: look at the ring again.
            pump();
        }

        private int writeId(BlockRequest r) {
            int length = (int) r.dataLength;
            int written = copyToWritable(r.chain, serial, length);
            r.writtenToGuest = written;
            return BlockRejection.Status.OK;
        }

        private int copyToWritable(DescriptorChain chain, byte[] data, int length) {
            int done = 0;
            for (int i = chain.firstWritable(); i < chain.count() && done < length; i++) {
                int n = (int) Math.min(Integer.toUnsignedLong(chain.length(i)), length - done);
                memory.write(chain.address(i), data, done, n);
                done += n;
            }
            return done;
        }
    }

    /** One request slot: the unit of work handed to the executor (reused, never allocated per request). */
    private final class Slot implements Runnable {
        final Active owner;
        final int index;
        final BlockRequest request;

        Slot(Active owner, int index, BlockRequest request) {
            this.owner = owner;
            this.index = index;
            this.request = request;
        }

        @Override
        public void run() {
            execute(owner.memory, request);
            owner.ioDone(this);
        }
    }

    /** Whether {@link #doneInline} might take the request: a transfer to a file in memory, or a read. */
    private boolean mayBeDoneInline(BlockRequest r) {
        if (r.type != BlockRequest.T_IN && r.type != BlockRequest.T_OUT || r.dataLength > BlockLimits.MAX_INLINE_BYTES) {
            return false;
        }
        return backend.memoryBacked() || r.type == BlockRequest.T_IN && r.dataLength > 0;
    }

    /**
     * Loop thread: performs a read or write right away when it cannot wait for a device (a file in
     * memory; a read of cached data), which saves two thread hops per request; true when done, with
     * its status set. Only for a request {@link #mayBeDoneInline} takes (its callers ask first); anything
     * else (writes to a file on a device, flush, discard, a transfer over
     * {@link BlockLimits#MAX_INLINE_BYTES}) goes to the executor, as does a read that would wait.
     */
    private boolean doneInline(GuestMemory memory, BlockRequest r) {
        if (backend.memoryBacked()) {
            execute(memory, r);
            inlineRequests.incrementAndGet();
            return true;
        }
        // A read from a file on a device: done here only if every byte is in the page cache.
        IovecScratch scratch = IOVECS.get();
        int count;
        try {
            count = dataIovecs(memory, r, scratch, true);
        } catch (RuntimeException e) {
            return false; // the executor's attempt reports it
        }
        if (count > 0 && backend.readVectoredIfCached(r.sector * BlockLimits.SECTOR_SIZE, scratch.iovecs, count, r.dataLength)) {
            r.writtenToGuest = (int) r.dataLength;
            r.resultStatus = BlockRejection.Status.OK;
            bytesRead.addAndGet(r.dataLength);
            inlineRequests.incrementAndGet();
            return true;
        }
        return false;
    }

    /** Executor thread: performs a parsed request against the file; sets its status. */
    private void execute(GuestMemory memory, BlockRequest r) {
        r.writtenToGuest = 0;
        try {
            long position = r.sector * BlockLimits.SECTOR_SIZE;
            switch (r.type) {
                case BlockRequest.T_IN -> {
                    if (!transferVectored(memory, r, position, true)) {
                        long remaining = r.dataLength;
                        DescriptorChain c = r.chain;
                        for (int i = c.firstWritable(); i < c.count() && remaining > 0; i++) {
                            long n = Math.min(Integer.toUnsignedLong(c.length(i)), remaining);
                            backend.read(position, memory.slice(c.address(i), n));
                            position += n;
                            remaining -= n;
                        }
                    }
                    r.writtenToGuest = (int) r.dataLength;
                    bytesRead.addAndGet(r.dataLength);
                }
                case BlockRequest.T_OUT -> {
                    if (!transferVectored(memory, r, position, false)) {
                        long skip = BlockRequest.HEADER_SIZE;
                        long remaining = r.dataLength;
                        DescriptorChain c = r.chain;
                        for (int i = 0; i < c.readableCount() && remaining > 0; i++) {
                            long length = Integer.toUnsignedLong(c.length(i));
                            if (skip >= length) {
                                skip -= length;
                                continue;
                            }
                            long n = Math.min(length - skip, remaining);
                            backend.write(position, memory.slice(c.address(i) + skip, n));
                            skip = 0;
                            position += n;
                            remaining -= n;
                        }
                    }
                    bytesWritten.addAndGet(r.dataLength);
                }
                case BlockRequest.T_FLUSH -> backend.flush();
                case BlockRequest.T_DISCARD -> {
                    for (int i = 0; i < r.segmentCount; i++) {
                        backend.discard(r.segmentSector[i] * BlockLimits.SECTOR_SIZE,
                                Integer.toUnsignedLong(r.segmentSectors[i]) * BlockLimits.SECTOR_SIZE);
                    }
                }
                case BlockRequest.T_WRITE_ZEROES -> {
                    for (int i = 0; i < r.segmentCount; i++) {
                        backend.writeZeroes(r.segmentSector[i] * BlockLimits.SECTOR_SIZE,
                                Integer.toUnsignedLong(r.segmentSectors[i]) * BlockLimits.SECTOR_SIZE, r.segmentUnmap[i]);
                    }
                }
                default -> throw new IllegalStateException("parser let through request type " + r.type);
            }
            r.resultStatus = BlockRejection.Status.OK;
        } catch (IOException | RuntimeException e) {
            ioErrors.incrementAndGet();
            if (LOG.shouldLog()) {
                LOG.warn("virtio-blk %s: request type %d at sector %d failed: %s".formatted(name, r.type, r.sector, e));
            }
            r.resultStatus = BlockRejection.Status.IOERR;
            r.writtenToGuest = 0;
        }
    }

    /**
     * Per thread that does I/O (the loop, I/O threads): an iovec array for one request's data
     * segments (a chain holds at most a queue's worth of descriptors) and the words it is filled
     * from, so that filling it costs one bulk copy. Freed with the thread's last reference.
     */
    private static final class IovecScratch {
        final MemorySegment iovecs = Arena.ofAuto().allocate(Iovec.LAYOUT.byteSize() * QUEUE_SIZE, 8);
        final long[] words = new long[2 * QUEUE_SIZE];
    }

    private static final ThreadLocal<IovecScratch> IOVECS = ThreadLocal.withInitial(IovecScratch::new);

    /**
     * Reads ({@code toGuest}) or writes the request's data with one preadv/pwritev over all its
     * segments, as a driver scatters a request over guest pages (a 1 MiB request is up to 256 of them).
     * False, having done nothing, when guest memory is not native (a heap-backed test memory):
     * the caller then transfers segment by segment.
     */
    private boolean transferVectored(GuestMemory memory, BlockRequest r, long position, boolean toGuest) throws IOException {
        IovecScratch scratch = IOVECS.get();
        int count = dataIovecs(memory, r, scratch, toGuest);
        if (count < 0) {
            return false;
        }
        if (toGuest) {
            backend.readVectored(position, scratch.iovecs, count);
        } else {
            backend.writeVectored(position, scratch.iovecs, count);
        }
        return true;
    }

    /**
     * Fills {@code scratch.iovecs} with the host addresses of the request's data segments (into the
     * guest for a read); returns how many, or -1 when guest memory is not native (a heap-backed test memory).
     */
    private static int dataIovecs(GuestMemory memory, BlockRequest r, IovecScratch scratch, boolean toGuest) {
        long[] words = scratch.words;
        DescriptorChain c = r.chain;
        int count = 0;
        long remaining = r.dataLength;
        long skip = toGuest ? 0 : BlockRequest.HEADER_SIZE;
        int from = toGuest ? c.firstWritable() : 0;
        int to = toGuest ? c.count() : c.readableCount();
        for (int i = from; i < to && remaining > 0; i++) {
            long length = Integer.toUnsignedLong(c.length(i));
            if (skip >= length) {
                skip -= length;
                continue;
            }
            long n = Math.min(length - skip, remaining);
            long host = memory.hostAddress(c.address(i) + skip, n);
            if (host < 0 || count == QUEUE_SIZE) {
                return -1;
            }
            words[2 * count] = host;
            words[2 * count + 1] = n;
            count++;
            skip = 0;
            remaining -= n;
        }
        // struct iovec is two native words: base, length.
        MemorySegment.copy(words, 0, scratch.iovecs, ValueLayout.JAVA_LONG, 0, 2 * count);
        return count;
    }

    // ---------------------------------------------------------------- observation

    public long requests() {
        return requests.get();
    }

    public long bytesRead() {
        return bytesRead.get();
    }

    public long bytesWritten() {
        return bytesWritten.get();
    }

    public long ioErrors() {
        return ioErrors.get();
    }

    /** Reads and writes done on the event loop itself (a file in memory, cached data) rather than on an I/O thread. */
    public long inlineRequests() {
        return inlineRequests.get();
    }

    public long rejections(BlockRejection reason) {
        return rejections.get(reason).get();
    }

    public String name() {
        return name;
    }
}
