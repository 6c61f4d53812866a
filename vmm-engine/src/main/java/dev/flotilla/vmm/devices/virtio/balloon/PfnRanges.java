package dev.flotilla.vmm.devices.virtio.balloon;

import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.memory.GuestMemory;

/**
 * Reads the page frame numbers of an inflate/deflate request (§5.5.6: le32 PFNs of 4 KiB pages)
 * and coalesces consecutive ones into guest-physical ranges, so a 1 MiB run costs one madvise,
 * not 256. Each PFN is read from guest memory once and checked against guest RAM; one outside
 * is counted and skipped, the rest still count.
 */
public final class PfnRanges {
    private PfnRanges() {}

    /** §5.5.6: VIRTIO_BALLOON_PFN_SHIFT, pages of 4 KiB whatever the guest's page size. */
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    /**
     * PFNs per request at most. Linux sends at most 256 (VIRTIO_BALLOON_ARRAY_PFNS_MAX); without a
     * cap one chain spanning the guest's RAM would hold the event loop for millions of reads.
     */
    public static final int MAX_PFNS_PER_REQUEST = 4096;

    /** Receives coalesced ranges (page-aligned, inside one RAM region). */
    @FunctionalInterface
    public interface RangeSink {
        void range(long gpa, long length);
    }

    /** Result counters of one parse (reused). */
    public static final class Result {
        long pages;
        long outsideMemory;

        public long pages() {
            return pages;
        }

        public long outsideMemory() {
            return outsideMemory;
        }
    }

    /**
     * Parses {@code chain}'s readable bytes as PFNs; valid pages go to {@code sink} as ranges.
     * Returns null, or why the request as a whole was not used (nothing sent to the sink then).
     */
    public static BalloonRejection parse(DescriptorChain chain, GuestMemory memory, RangeSink sink, Result result) {
        result.pages = 0;
        result.outsideMemory = 0;
        if (chain.writableCount() > 0) {
            return BalloonRejection.UNEXPECTED_WRITABLE_BUFFER;
        }
        long bytes = chain.readableBytes();
        if (bytes % 4 != 0) {
            return BalloonRejection.PFN_LIST_NOT_WHOLE;
        }
        if (bytes / 4 > MAX_PFNS_PER_REQUEST) {
            return BalloonRejection.PFN_LIST_TOO_LONG;
        }
        long start = -1;
        long length = 0;
        for (int i = 0; i < chain.readableCount(); i++) {
            long address = chain.address(i);
            long end = address + Integer.toUnsignedLong(chain.length(i));
            // A PFN may straddle two descriptors: assemble it byte by byte there.
            for (long at = address; at < end; ) {
                long pfn;
                if (end - at >= 4) {
                    pfn = Integer.toUnsignedLong(memory.readInt(at));
                    at += 4;
                } else {
                    // Rare split PFN (only a hostile or odd driver does this): gather across buffers.
                    int value = 0;
                    int shift = 0;
                    int k = i;
                    long p = at;
                    long pEnd = end;
                    while (shift < 32) {
                        if (p == pEnd) {
                            k++;
                            p = chain.address(k);
                            pEnd = p + Integer.toUnsignedLong(chain.length(k));
                            continue;
                        }
                        value |= (memory.readByte(p++) & 0xff) << shift;
                        shift += 8;
                    }
                    pfn = Integer.toUnsignedLong(value);
                    i = k;
                    at = p;
                    end = pEnd;
                }
                long gpa = pfn << PAGE_SHIFT;
                if (!memory.contains(gpa, PAGE_SIZE)) {
                    result.outsideMemory++;
                    continue;
                }
                result.pages++;
                if (start >= 0 && gpa == start + length && memory.contains(start, length + PAGE_SIZE)) {
                    length += PAGE_SIZE;
                } else {
                    if (start >= 0) {
                        sink.range(start, length);
                    }
                    start = gpa;
                    length = PAGE_SIZE;
                }
            }
        }
        if (start >= 0) {
            sink.range(start, length);
        }
        return null;
    }
}
