package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class InitrdPlacementTest {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private final GuestMemory memory = SegmentGuestMemory.ofHeap(16 * MIB);

    @Test
    void load_placesInitrdPageAlignedAtTopOfLimit() throws Exception {
        Path p = dir.resolve("initrd");
        Files.write(p, new byte[10_000]);
        Initrd initrd = Initrd.load(p, memory, 2 * MIB, 16 * MIB);
        assertEquals(16 * MIB - 12 * 1024, initrd.address());
        assertEquals(0, initrd.address() % 4096);
        assertEquals(10_000, initrd.size());
    }

    @Test
    void load_copiesFileContents() throws Exception {
        byte[] data = new byte[5000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i ^ 0x5A);
        }
        Path p = dir.resolve("initrd");
        Files.write(p, data);
        Initrd initrd = Initrd.load(p, memory, 2 * MIB, 16 * MIB);
        byte[] read = new byte[data.length];
        memory.read(initrd.address(), read, 0, read.length);
        assertArrayEquals(data, read);
    }

    @Test
    void load_missingFile_failsNamingThePath() {
        Path p = dir.resolve("missing-initrd.cpio");
        BootException e = assertThrows(BootException.class, () -> Initrd.load(p, memory, 2 * MIB, 16 * MIB));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("initrd"), e.getMessage());
    }

    @Test
    void load_directory_failsNamingThePath() {
        BootException e = assertThrows(BootException.class, () -> Initrd.load(dir, memory, 2 * MIB, 16 * MIB));
        assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
    }

    @Test
    void load_tooLargeForSpaceAboveKernel_failsClearly() throws Exception {
        Path p = dir.resolve("initrd");
        Files.write(p, new byte[(int) (3 * MIB)]);
        BootException e = assertThrows(BootException.class, () -> Initrd.load(p, memory, 14 * MIB, 16 * MIB));
        assertTrue(e.getMessage().contains("does not fit in guest memory"), e.getMessage());
    }

    @Test
    void load_exactlyFillingSpaceAboveKernel_fits() throws Exception {
        Path p = dir.resolve("initrd");
        Files.write(p, new byte[(int) (2 * MIB)]);
        assertEquals(14 * MIB, Initrd.load(p, memory, 14 * MIB, 16 * MIB).address());
    }

    @Test
    void load_emptyFile_fails() throws Exception {
        Path p = dir.resolve("initrd");
        Files.write(p, new byte[0]);
        assertTrue(assertThrows(BootException.class, () -> Initrd.load(p, memory, 2 * MIB, 16 * MIB))
                .getMessage().contains("empty"));
    }
}
