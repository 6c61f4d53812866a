package dev.flotilla.vmm.devices.virtio.blk;

import dev.flotilla.vmm.devices.virtio.testing.GuestDriver.Buffer;
import dev.flotilla.vmm.memory.GuestMemory;
import dev.flotilla.vmm.memory.MemoryRegion;
import dev.flotilla.vmm.memory.SegmentGuestMemory;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every {@link VirtioBlockTest} again over native guest memory, as a VM's RAM is: reads and
 * writes then go through one preadv/pwritev per request instead of a call per segment.
 */
class VirtioBlockNativeMemoryTest extends VirtioBlockTest {

    @Override
    GuestMemory newMemory() {
        return new SegmentGuestMemory(List.of(new MemoryRegion(0, Arena.ofAuto().allocate(1 << 20, 4096))));
    }

    /** A read whose data is in the page cache is done on the loop (preadv2 RWF_NOWAIT); a write to a disk file goes to an I/O thread. */
    @Test
    void onADiskFile_cachedRead_doneInline_writeHandedToAnIoThread() throws IOException {
        assumeFalse(RawFileBackend.inMemoryFileSystem(tmp), "the temporary directory is in memory: every request would be inline");
        open(false);
        header(BlockRequest.T_IN, 3);
        ring.add(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 512), Buffer.writable(STATUS, 1));
        mmio.notifyQueue(0);
        assertEquals(0, env.pendingBlocking(), "the read did not wait for an I/O thread");
        env.runAll();
        ring.pollUsed();
        assertEquals(0, status());
        assertEquals(3, memory.readByte(DATA + 511), "sector 3's bytes");
        assertEquals(1, blk.inlineRequests());

        header(BlockRequest.T_OUT, 0);
        ring.add(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 512), Buffer.writable(STATUS, 1));
        mmio.notifyQueue(0);
        assertEquals(1, env.pendingBlocking(), "the write waits for an I/O thread");
        env.runAll();
        assertEquals(1, blk.inlineRequests());
    }

    /** A file in memory (tmpfs) never waits for a device: reads and writes alike are done on the loop. */
    @Test
    void onAFileInMemory_readsAndWritesDoneInline() throws IOException {
        Path shm = Path.of("/dev/shm");
        assumeTrue(Files.isDirectory(shm) && RawFileBackend.inMemoryFileSystem(shm), "no tmpfs at /dev/shm");
        tmp = Files.createTempDirectory(shm, "flotilla-blk-test-");
        sectors = 8 << 11; // 8 MiB: room for a request over MAX_INLINE_BYTES
        try {
            open(false);
            header(BlockRequest.T_OUT, 5);
            memory.write(DATA, new byte[] {42}, 0, 1);
            assertEquals(1, submit(Buffer.readable(HEADER, 16), Buffer.readable(DATA, 512), Buffer.writable(STATUS, 1)));
            header(BlockRequest.T_IN, 5);
            memory.writeByte(DATA, (byte) 0);
            submit(Buffer.readable(HEADER, 16), Buffer.writable(DATA, 512), Buffer.writable(STATUS, 1));
            assertEquals(42, memory.readByte(DATA));
            assertEquals(2, blk.inlineRequests());
            assertEquals(0, env.pendingBlocking());

            // Two reads queued together: the first goes to an I/O thread, the last is done on the loop, so their
            // copies overlap. Two writes are both done on the loop (they would queue for the file's lock anyway).
            long header2 = HEADER + 0x100;
            long status2 = STATUS + 1;
            for (int type : new int[] {BlockRequest.T_IN, BlockRequest.T_OUT}) {
                long inlineBefore = blk.inlineRequests();
                header(type, 6);
                memory.writeInt(header2, type);
                memory.writeInt(header2 + 4, 0);
                memory.writeLong(header2 + 8, 7);
                memory.writeByte(status2, (byte) 0x7f);
                ring.add(Buffer.readable(HEADER, 16), type == BlockRequest.T_IN ? Buffer.writable(DATA, 512) : Buffer.readable(DATA, 512),
                        Buffer.writable(STATUS, 1));
                ring.add(Buffer.readable(header2, 16), type == BlockRequest.T_IN ? Buffer.writable(DATA + 512, 512) : Buffer.readable(DATA, 512),
                        Buffer.writable(status2, 1));
                mmio.notifyQueue(0);
                if (type == BlockRequest.T_IN) {
                    assertEquals(1, env.pendingBlocking(), "the first read waits for an I/O thread");
                    assertEquals(inlineBefore + 1, blk.inlineRequests(), "the last read was done on the loop");
                    assertEquals(0x7f, status(), "the first read is not done yet");
                } else {
                    assertEquals(0, env.pendingBlocking(), "both writes were done on the loop");
                    assertEquals(inlineBefore + 2, blk.inlineRequests());
                }
                assertEquals(0, memory.readByte(status2));
                env.runAll();
                assertEquals(0, status());
                assertTrue(ring.pollUsed() && ring.pollUsed(), "both completed");
            }

            // Over MAX_INLINE_BYTES (four 768 KiB buffers, the same guest range: 3 MiB) goes to an I/O
            // thread all the same, so no one request holds the loop for long.
            header(BlockRequest.T_IN, 0);
            Buffer part = Buffer.writable(DATA, 768 << 10);
            ring.add(Buffer.readable(HEADER, 16), part, part, part, part, Buffer.writable(STATUS, 1));
            mmio.notifyQueue(0);
            assertEquals(1, env.pendingBlocking(), "the large read waits for an I/O thread");
            env.runAll();
            assertTrue(ring.pollUsed());
            assertEquals(0, status());
            assertEquals(5, blk.inlineRequests());
        } finally {
            blk.close();
            blk = null;
            Files.deleteIfExists(tmp.resolve("disk.img"));
            Files.deleteIfExists(tmp);
        }
    }
}
