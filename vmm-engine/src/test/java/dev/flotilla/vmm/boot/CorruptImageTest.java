package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Hostile images: valid fixtures with random bytes of their headers overwritten must either
 * load or fail with a {@link BootException}, never with any other exception (an out-of-memory
 * write, an overflow, an index error from a lying size field).
 */
class CorruptImageTest {

    private static final long MIB = 1 << 20;
    private static final int ROUNDS = 400;

    @TempDir
    Path dir;

    private final GuestMemory memory = SegmentGuestMemory.ofHeap(32 * MIB);

    private void mutateAndLoad(byte[] valid, int headerBytes, long seed) throws Exception {
        Random random = new Random(seed);
        Path kernel = dir.resolve("kernel");
        for (int round = 0; round < ROUNDS; round++) {
            byte[] image = valid.clone();
            int mutations = 1 + random.nextInt(4);
            for (int m = 0; m < mutations; m++) {
                image[random.nextInt(Math.min(headerBytes, image.length))] = (byte) random.nextInt(256);
            }
            Files.write(kernel, image);
            try {
                LinuxBoot.prepare(memory, new BootSpec(kernel, Optional.empty(), "console=ttyS0", 2));
            } catch (BootException expected) {
                assertNotNull(expected.getMessage());
            } catch (RuntimeException e) {
                fail("round %d (seed %d) threw %s instead of a BootException".formatted(round, seed, e), e);
            }
        }
    }

    @Test
    void load_elfWithRandomlyCorruptedHeaders_failsOnlyWithBootException() throws Exception {
        byte[] elf = new ElfImageBuilder()
                .load(0x100_0000, new byte[0x300], 0x1000)
                .note("Linux", 1, new byte[4])
                .pvhEntry(0x100_0010)
                .build();
        mutateAndLoad(elf, 64 + 3 * 56 + 64, 1);
    }

    @Test
    void load_bzImageWithRandomlyCorruptedSetupHeader_failsOnlyWithBootException() throws Exception {
        byte[] bz = new BzImageBuilder().build();
        // Mutate within the setup header (0x1f1..0x270) only: the boot sector before it is not read.
        Random random = new Random(2);
        Path kernel = dir.resolve("bzImage");
        for (int round = 0; round < ROUNDS; round++) {
            byte[] image = bz.clone();
            int mutations = 1 + random.nextInt(4);
            for (int m = 0; m < mutations; m++) {
                image[0x1F1 + random.nextInt(0x270 - 0x1F1)] = (byte) random.nextInt(256);
            }
            Files.write(kernel, image);
            try {
                LinuxBoot.prepare(memory, new BootSpec(kernel, Optional.empty(), "console=ttyS0", 1));
            } catch (BootException expected) {
                assertNotNull(expected.getMessage());
            } catch (RuntimeException e) {
                fail("round %d threw %s instead of a BootException".formatted(round, e), e);
            }
        }
    }
}
