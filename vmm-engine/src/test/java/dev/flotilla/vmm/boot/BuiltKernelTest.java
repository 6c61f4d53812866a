package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Loads real kernels when they are on this machine: the guest kernel the project builds (cached
 * under ~/.cache/flotilla/kernel/), and Debian's stock kernel the lab harness unpacks (under
 * ~/.cache/flotilla/lab/kernel/). The fixtures in the other tests are written from the specs;
 * these check that the loaders agree with kernels the Linux build actually produced.
 */
class BuiltKernelTest {

    private static final long MIB = 1 << 20;
    private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "flotilla");

    /** The newest file at {@code root/<any dir>/<relative>} for any of {@code relatives}. */
    private static Optional<Path> newest(Path root, List<String> relatives) throws IOException {
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.flatMap(d -> relatives.stream().map(d::resolve)).filter(Files::isRegularFile)
                    .max(Comparator.comparing(p -> p.toFile().lastModified()));
        }
    }

    @Test
    void load_builtVmlinux_findsPvhEntryInsideTheKernel() throws Exception {
        Optional<Path> vmlinux = newest(CACHE.resolve("kernel"), List.of("vmlinux"));
        Assumptions.assumeTrue(vmlinux.isPresent(),
                "no project-built kernel in ~/.cache/flotilla/kernel/*/vmlinux yet; build the guest kernel to run this test");
        BootResult r = LinuxBoot.prepare(SegmentGuestMemory.ofHeap(256 * MIB),
                new BootSpec(vmlinux.get(), Optional.empty(), "console=ttyS0", 2));
        assertEquals(BootProtocol.PVH, r.protocol());
        assertTrue(r.cpu().rip() >= r.kernelStart() && r.cpu().rip() < r.kernelEnd(),
                "PVH entry 0x%x inside the kernel [0x%x-0x%x)".formatted(r.cpu().rip(), r.kernelStart(), r.kernelEnd()));
    }

    @Test
    void load_builtBzImage_usesSixtyFourBitEntry() throws Exception {
        Optional<Path> bzImage = newest(CACHE.resolve("kernel"), List.of("bzImage", "arch/x86/boot/bzImage"));
        Assumptions.assumeTrue(bzImage.isPresent(),
                "no project-built bzImage in ~/.cache/flotilla/kernel/ yet; build the guest kernel to run this test");
        BootResult r = LinuxBoot.prepare(SegmentGuestMemory.ofHeap(256 * MIB),
                new BootSpec(bzImage.get(), Optional.empty(), "console=ttyS0", 2));
        assertEquals(BootProtocol.LINUX_64, r.protocol());
        assertEquals(r.kernelStart() + 0x200, r.cpu().rip());
    }

    @Test
    void load_debianVmlinuz_loadsAtPrefAddressWithDecompressionRoom() throws Exception {
        Optional<Path> vmlinuz = newest(CACHE.resolve("lab").resolve("kernel"), List.of("vmlinuz"));
        Assumptions.assumeTrue(vmlinuz.isPresent(),
                "no Debian kernel in ~/.cache/flotilla/lab/kernel/*/vmlinuz (the lab harness unpacks it); skipping");
        SegmentGuestMemory memory = SegmentGuestMemory.ofHeap(256 * MIB);
        BootResult r = LinuxBoot.prepare(memory, new BootSpec(vmlinuz.get(), Optional.empty(), "console=ttyS0", 1));
        assertEquals(BootProtocol.LINUX_64, r.protocol());
        assertEquals(0x100_0000, r.kernelStart(), "Debian's pref_address (CONFIG_PHYSICAL_START)");
        long initSize = Integer.toUnsignedLong(memory.readInt(0x7000 + 0x260));
        assertTrue(initSize > 0 && r.kernelEnd() >= r.kernelStart() + initSize);
        assertEquals(0x5372_6448, memory.readInt(0x7000 + 0x202), "setup header copied to the zero page");
    }
}
