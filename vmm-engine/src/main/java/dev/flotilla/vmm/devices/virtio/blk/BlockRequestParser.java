package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.devices.virtio.queue.DescriptorChain;
import dev.flotilla.vmm.memory.GuestMemory;

/**
 * Turns a validated descriptor chain into a {@link BlockRequest}, or names what is wrong with it
 * ({@link BlockRejection}). Parsing only: nothing touches the disk. No framing is assumed
 * (VIRTIO_F_VERSION_1 implies ANY_LAYOUT): the header may straddle descriptors and share one with
 * data; the status is the last device-writable byte.
 *
 * <p>The header and discard segments are read once each; every later decision uses the copies.
 */
public final class BlockRequestParser {
    private BlockRequestParser() {}

    /** Parses {@code request.chain()}; null when the request may be executed. */
    public static BlockRejection parse(BlockRequest request, GuestMemory memory, BlockLimits limits) {
        DescriptorChain chain = request.chain;
        request.type = -1;
        request.sector = 0;
        request.dataLength = 0;
        request.segmentCount = 0;
        request.statusAddress = -1;
        // The status byte first: without it the driver cannot even be told what went wrong.
        int last = -1;
        for (int i = chain.count() - 1; i >= chain.firstWritable(); i--) {
            if (chain.length(i) != 0) {
                last = i;
                break;
            }
        }
        if (last < 0) {
            return BlockRejection.STATUS_MISSING;
        }
        request.statusAddress = chain.address(last) + Integer.toUnsignedLong(chain.length(last)) - 1;
        long readable = chain.readableBytes();
        long writableData = chain.writableBytes() - 1;
        if (readable < BlockRequest.HEADER_SIZE) {
            return BlockRejection.HEADER_TOO_SHORT;
        }
        if (Integer.toUnsignedLong(chain.length(0)) >= BlockRequest.HEADER_SIZE) {
            // The usual layout (Linux puts the header in a descriptor of its own): two reads.
            request.type = memory.readInt(chain.address(0));
            request.sector = memory.readLong(chain.address(0) + 8);
        } else {
            request.type = readInt(chain, memory, 0);
            request.sector = readLong(chain, memory, 8);
        }
        long readableData = readable - BlockRequest.HEADER_SIZE;
        return switch (request.type) {
            case BlockRequest.T_IN -> {
                if (readableData != 0) {
                    yield BlockRejection.UNEXPECTED_READABLE_DATA;
                }
                request.dataLength = writableData;
                yield checkSectors(request, limits);
            }
            case BlockRequest.T_OUT -> {
                if (writableData != 0) {
                    yield BlockRejection.UNEXPECTED_WRITABLE_DATA;
                }
                request.dataLength = readableData;
                BlockRejection r = checkSectors(request, limits);
                yield r != null ? r : limits.readOnly() ? BlockRejection.READ_ONLY : null;
            }
            case BlockRequest.T_FLUSH -> limits.flush() ? null : BlockRejection.UNSUPPORTED_TYPE;
            case BlockRequest.T_GET_ID -> {
                if (writableData == 0) {
                    yield BlockRejection.ID_BUFFER_EMPTY;
                }
                request.dataLength = Math.min(writableData, BlockLimits.ID_BYTES);
                yield null;
            }
            case BlockRequest.T_DISCARD, BlockRequest.T_WRITE_ZEROES -> {
                boolean discard = request.type == BlockRequest.T_DISCARD;
                if (!(discard ? limits.discard() : limits.writeZeroes())) {
                    yield BlockRejection.UNSUPPORTED_TYPE;
                }
                if (writableData != 0) {
                    yield BlockRejection.UNEXPECTED_WRITABLE_DATA;
                }
                BlockRejection r = parseSegments(request, memory, limits, readableData, discard);
                yield r != null ? r : limits.readOnly() ? BlockRejection.READ_ONLY : null;
            }
            default -> BlockRejection.UNSUPPORTED_TYPE;
        };
    }

    private static BlockRejection checkSectors(BlockRequest request, BlockLimits limits) {
        long length = request.dataLength;
        if (length % BlockLimits.SECTOR_SIZE != 0) {
            return BlockRejection.DATA_NOT_SECTOR_MULTIPLE;
        }
        if (length > BlockLimits.MAX_DATA_BYTES) {
            return BlockRejection.REQUEST_TOO_LARGE;
        }
        return inRange(request.sector, length / BlockLimits.SECTOR_SIZE, limits) ? null : BlockRejection.SECTOR_OUT_OF_RANGE;
    }

    /** sector + count <= capacity, with sector as an unsigned 64-bit guest value. */
    private static boolean inRange(long sector, long count, BlockLimits limits) {
        return Long.compareUnsigned(sector, limits.capacitySectors()) <= 0 && count <= limits.capacitySectors() - sector;
    }

    private static BlockRejection parseSegments(BlockRequest request, GuestMemory memory, BlockLimits limits,
                                                long bytes, boolean discard) {
        if (bytes == 0 || bytes % BlockRequest.SEGMENT_SIZE != 0) {
            return BlockRejection.BAD_SEGMENT_LIST;
        }
        if (bytes / BlockRequest.SEGMENT_SIZE > BlockLimits.MAX_SEGMENTS) {
            return BlockRejection.TOO_MANY_SEGMENTS;
        }
        int count = (int) (bytes / BlockRequest.SEGMENT_SIZE);
        request.ensureSegments();
        for (int i = 0; i < count; i++) {
            long at = BlockRequest.HEADER_SIZE + (long) i * BlockRequest.SEGMENT_SIZE;
            long sector = readLong(request.chain, memory, at);
            int sectors = readInt(request.chain, memory, at + 8);
            int flags = readInt(request.chain, memory, at + 12);
            // §5.2.6.2: discard with unmap is UNSUPP; other bits are reserved.
            if ((flags & ~BlockRequest.SEGMENT_FLAG_UNMAP) != 0 || (discard && flags != 0)) {
                return BlockRejection.UNSUPPORTED_SEGMENT_FLAGS;
            }
            if (Integer.toUnsignedLong(sectors) > BlockLimits.MAX_SEGMENT_SECTORS) {
                return BlockRejection.SEGMENT_TOO_LARGE;
            }
            if (!inRange(sector, sectors, limits)) {
                return BlockRejection.SECTOR_OUT_OF_RANGE;
            }
            request.segmentSector[i] = sector;
            request.segmentSectors[i] = sectors;
            request.segmentUnmap[i] = (flags & BlockRequest.SEGMENT_FLAG_UNMAP) != 0;
        }
        request.segmentCount = count;
        return null;
    }

    /** Little-endian 32-bit value at {@code offset} of the readable byte stream (may straddle descriptors). */
    static int readInt(DescriptorChain chain, GuestMemory memory, long offset) {
        int v = 0;
        for (int b = 0; b < 4; b++) {
            v |= (readableByte(chain, memory, offset + b) & 0xff) << (8 * b);
        }
        return v;
    }

    static long readLong(DescriptorChain chain, GuestMemory memory, long offset) {
        return Integer.toUnsignedLong(readInt(chain, memory, offset)) | ((long) readInt(chain, memory, offset + 4) << 32);
    }

    private static byte readableByte(DescriptorChain chain, GuestMemory memory, long offset) {
        for (int i = 0; i < chain.readableCount(); i++) {
            long length = Integer.toUnsignedLong(chain.length(i));
            if (offset < length) {
                return memory.readByte(chain.address(i) + offset);
            }
            offset -= length;
        }
        throw new IllegalStateException("offset beyond the readable bytes; the caller checked the length");
    }
}
