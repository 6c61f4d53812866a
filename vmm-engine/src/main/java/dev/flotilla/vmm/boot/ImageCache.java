package dev.flotilla.vmm.boot;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Kernel and initrd contents kept in memory for the process, so that the hundreds of VMs one JVM boots
 * from the same kernel read the file once instead of once per VM. A VMM in its own process per VM
 * (QEMU, Firecracker) cannot share this; an in-process one can.
 *
 * <p>An entry is trusted only while the file keeps the identity it had when it was read (file key, size
 * and modification time): a rebuilt kernel is read again. Entries are off-heap, least recently used
 * ones are dropped beyond {@link #BUDGET_BYTES}, and files larger than a quarter of the budget are not
 * cached at all (they are copied straight from the file, as before).
 */
final class ImageCache {

    /** -Dflotilla.vmm.imageCacheMiB=0 turns the cache off. */
    static final long BUDGET_BYTES = Long.getLong("flotilla.vmm.imageCacheMiB", 256) << 20;

    private record Identity(Path path, Object fileKey, long size, FileTime modified) {
    }

    private static final Map<Path, Entry> ENTRIES = new LinkedHashMap<>(16, 0.75f, true);
    private static long cachedBytes;

    private record Entry(Identity identity, MemorySegment contents) {
    }

    private ImageCache() {
    }

    /** Whether a file of {@code size} bytes is worth keeping. */
    static boolean cacheable(long size) {
        return size > 0 && size <= BUDGET_BYTES / 4;
    }

    /**
     * The contents of the open file, from the cache when its identity still matches, else read now
     * through {@code channel} and remembered. Returns a read-only segment.
     */
    static MemorySegment contents(Path path, BasicFileAttributes attributes, FileChannel channel) throws IOException {
        Identity identity = new Identity(path, attributes.fileKey(), attributes.size(), attributes.lastModifiedTime());
        synchronized (ENTRIES) {
            Entry entry = ENTRIES.get(path);
            if (entry != null && entry.identity().equals(identity)) {
                return entry.contents();
            }
        }
        MemorySegment contents = read(channel, attributes.size());
        synchronized (ENTRIES) {
            Entry previous = ENTRIES.put(path, new Entry(identity, contents));
            cachedBytes += contents.byteSize() - (previous == null ? 0 : previous.contents().byteSize());
            Iterator<Entry> oldestFirst = ENTRIES.values().iterator();
            while (cachedBytes > BUDGET_BYTES && oldestFirst.hasNext()) {
                Entry oldest = oldestFirst.next();
                if (oldest.contents() != contents) {
                    cachedBytes -= oldest.contents().byteSize();
                    oldestFirst.remove();
                }
            }
        }
        return contents;
    }

    /** Reads the whole file into off-heap memory freed by the garbage collector once unreferenced. */
    private static MemorySegment read(FileChannel channel, long size) throws IOException {
        MemorySegment contents = Arena.ofAuto().allocate(size, 4096);
        var buffer = contents.asByteBuffer();
        long position = 0;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position);
            if (n < 0) {
                throw new IOException("the file ended at offset %d of %d (did it shrink while loading?)".formatted(position, size));
            }
            position += n;
        }
        return contents.asReadOnly();
    }

    /** Drops every entry (tests). */
    static void clear() {
        synchronized (ENTRIES) {
            ENTRIES.clear();
            cachedBytes = 0;
        }
    }

    /** Number of files cached (tests). */
    static int size() {
        synchronized (ENTRIES) {
            return ENTRIES.size();
        }
    }

    static long cachedBytes() {
        synchronized (ENTRIES) {
            return cachedBytes;
        }
    }
}
