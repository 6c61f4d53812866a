package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.memory.SegmentGuestMemory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Loads the guest kernel the project builds (cached under ~/.cache/flotilla/kernel/HASH/), when
 * it has been built: the fixtures above are written from the specs, this checks the loaders
 * agree with a real vmlinux / bzImage.
 */
class BuiltKernelTest {

    private static final long MIB = 1 << 20;

    private static Optional<Path> cached(String name) throws IOException {
        Path root = Path.of(System.getProperty("user.home"), ".cache", "flotilla", "kernel");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.map(d -> d.resolve(name)).filter(Files::isRegularFile)
                    .max(Comparator.comparing(p -> p.toFile().lastModified()));
        }
    }

    @Test
    void load_builtVmlinux_findsPvhEntry() throws Exception {
        Optional<Path> vmlinux = cached("vmlinux");
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
        Optional<Path> bzImage = cached("bzImage");
        Assumptions.assumeTrue(bzImage.isPresent(),
                "no project-built kernel in ~/.cache/flotilla/kernel/*/bzImage yet; build the guest kernel to run this test");
        BootResult r = LinuxBoot.prepare(SegmentGuestMemory.ofHeap(256 * MIB),
                new BootSpec(bzImage.get(), Optional.empty(), "console=ttyS0", 2));
        assertEquals(BootProtocol.LINUX_64, r.protocol());
        assertEquals(r.kernelStart() + 0x200, r.cpu().rip());
    }
}
