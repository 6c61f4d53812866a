package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.MemoryRegion;
import dev.flotilla.vmm.memory.SegmentGuestMemory;

import java.lang.foreign.Arena;
import java.util.List;

/**
 * Every {@link VirtioBlockTest} again over native guest memory, as a VM's RAM is: reads and
 * writes then go through one preadv/pwritev per request instead of a call per segment.
 */
class VirtioBlockNativeMemoryTest extends VirtioBlockTest {

    @Override
    GuestMemory newMemory() {
        return new SegmentGuestMemory(List.of(new MemoryRegion(0, Arena.ofAuto().allocate(1 << 20, 4096))));
    }
}
