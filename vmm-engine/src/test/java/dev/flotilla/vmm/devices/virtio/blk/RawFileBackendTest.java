package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.sys.Iovec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class RawFileBackendTest {

    @TempDir
    Path tmp;

    @Test
    void readVectored_pastEndOfFile_fillsTheRestWithZeroes() throws IOException {
        Path file = tmp.resolve("disk.img");
        Files.write(file, new byte[]{1, 2, 3, 4, 5, 6});
        try (Arena arena = Arena.ofConfined(); RawFileBackend backend = new RawFileBackend(file, true)) {
            MemorySegment a = arena.allocate(4).fill((byte) 0x55);
            MemorySegment b = arena.allocate(8).fill((byte) 0x55);
            MemorySegment iovecs = arena.allocate(Iovec.LAYOUT, 2);
            Iovec.set(iovecs, 0, a);
            Iovec.set(iovecs, 1, b);
            backend.readVectored(0, iovecs, 2);
            assertArrayEquals(new byte[]{1, 2, 3, 4}, a.toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(new byte[]{5, 6, 0, 0, 0, 0, 0, 0}, b.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void writeVectored_twoBuffers_landBackToBackAtThePosition() throws IOException {
        Path file = tmp.resolve("disk.img");
        Files.write(file, new byte[8]);
        try (Arena arena = Arena.ofConfined(); RawFileBackend backend = new RawFileBackend(file, false)) {
            MemorySegment iovecs = arena.allocate(Iovec.LAYOUT, 2);
            Iovec.set(iovecs, 0, arena.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 7, (byte) 8));
            Iovec.set(iovecs, 1, arena.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 9));
            backend.writeVectored(3, iovecs, 2);
        }
        assertArrayEquals(new byte[]{0, 0, 0, 7, 8, 9, 0, 0}, Files.readAllBytes(file));
    }

    @Test
    void consume_shortTransfer_advancesIntoTheEntryItStoppedIn() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iovecs = arena.allocate(Iovec.LAYOUT, 3);
            Iovec.set(iovecs, 0, 0x1000, 100);
            Iovec.set(iovecs, 1, 0x2000, 100);
            Iovec.set(iovecs, 2, 0x3000, 100);
            int first = RawFileBackend.consume(iovecs, 0, 3, 130);
            assertEquals(1, first);
            assertEquals(0x2000 + 30, Iovec.base(iovecs, 1));
            assertEquals(70, Iovec.length(iovecs, 1));
            assertEquals(3, RawFileBackend.consume(iovecs, 1, 3, 170));
        }
    }

    @Test
    void readVectoredIfCached_dataJustWritten_isRead_butNotPastTheEndOfTheFile() throws IOException {
        Path file = tmp.resolve("disk.img");
        Files.write(file, new byte[]{1, 2, 3, 4, 5, 6, 7, 8});
        try (Arena arena = Arena.ofConfined(); RawFileBackend backend = new RawFileBackend(file, true)) {
            org.junit.jupiter.api.Assumptions.assumeFalse(backend.memoryBacked(), "tmpfs may not offer RWF_NOWAIT");
            MemorySegment a = arena.allocate(4);
            MemorySegment iovecs = arena.allocate(Iovec.LAYOUT, 1);
            Iovec.set(iovecs, 0, a);
            org.junit.jupiter.api.Assertions.assertTrue(backend.readVectoredIfCached(2, iovecs, 1, 4), "in the page cache");
            assertArrayEquals(new byte[]{3, 4, 5, 6}, a.toArray(ValueLayout.JAVA_BYTE));
            Iovec.set(iovecs, 0, a);
            org.junit.jupiter.api.Assertions.assertFalse(backend.readVectoredIfCached(6, iovecs, 1, 4), "2 of 4 bytes exist");
        }
    }

    @Test
    void memoryBacked_tellsTmpfsFromADisk() throws IOException {
        Path shm = Path.of("/dev/shm");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(shm) && Files.getFileStore(shm).type().equals("tmpfs"));
        Path inMemory = Files.createTempFile(shm, "flotilla-raw-", ".img");
        try (RawFileBackend backend = new RawFileBackend(inMemory, true)) {
            org.junit.jupiter.api.Assertions.assertTrue(backend.memoryBacked());
        } finally {
            Files.deleteIfExists(inMemory);
        }
        Path onDisk = tmp.resolve("disk.img");
        Files.write(onDisk, new byte[512]);
        try (RawFileBackend backend = new RawFileBackend(onDisk, true)) {
            assertEquals(Files.getFileStore(tmp).type().equals("tmpfs"), backend.memoryBacked());
        }
    }
}
