package dev.flotilla.vmm.vcpu;

import dev.flotilla.vmm.testing.KvmAvailable;
import dev.flotilla.vmm.testing.RecordingDevice;
import dev.flotilla.vmm.testing.TinyGuests;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.flotilla.vmm.testing.TinyGuests.ENTRY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real KVM (this host's /dev/kvm) running tiny guests on vCPU threads. */
class VcpuIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @BeforeEach
    void requireKvm() {
        KvmAvailable.assumeKvm();
    }

    /** Runs IO_AND_MEMORY to its end; returns the devices it touched. */
    private record IoRun(RecordingDevice serial, RecordingDevice mmio, byte storedIn, int mmioReadStored, String exit) {}

    private IoRun runIoGuest() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, false)) {
            RecordingDevice serial = new RecordingDevice(0x5A);
            RecordingDevice mmio = new RecordingDevice(0xCAFE_BABEL);
            CountDownLatch done = new CountDownLatch(1);
            m.portIo.register(0x3F8, 1, serial, "recorder");
            m.portIo.register(TinyGuests.DONE_PORT, 1, new RecordingDevice(0) {
                @Override
                public void write(long offset, int size, long value) {
                    done.countDown();
                }
            }, "done");
            m.mmio.register(TinyGuests.MMIO_BASE, 0x100, mmio, "mmio recorder");
            m.load(ENTRY, TinyGuests.IO_AND_MEMORY);
            m.ram.memory().writeByte(0x2004, (byte) 0x77);
            m.addVcpu(0, TinyGuests.realMode(ENTRY, 0)).start();
            assertTrue(done.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "guest did not finish: " + m.exits);
            String exit = m.exits.poll(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            return new IoRun(serial, mmio, m.ram.memory().readByte(0x2000), m.ram.memory().readInt(0x2008), exit);
        }
    }

    @Test
    void portIo_guestOutAndIn_reachTheRegisteredDevice() throws Exception {
        IoRun run = runIoGuest();
        List<RecordingDevice.Access> a = run.serial().accesses();
        assertEquals(new RecordingDevice.Access(true, 0, 1, 0x48), a.get(0));
        assertEquals(new RecordingDevice.Access(false, 0, 1, 0x5A), a.get(1));
    }

    @Test
    void mmio_guestWriteAndRead_reachTheRegisteredDevice() throws Exception {
        IoRun run = runIoGuest();
        assertEquals(List.of(new RecordingDevice.Access(true, 0x10, 2, 0xBEEF),
                new RecordingDevice.Access(false, 0x20, 4, 0xCAFE_BABEL)), run.mmio().accesses());
        assertEquals(0xCAFE_BABE, run.mmioReadStored());
    }

    @Test
    void memory_guestStoreIsVisibleToHost_andHostStoreToGuest() throws Exception {
        IoRun run = runIoGuest();
        assertEquals((byte) 0x5A, run.storedIn(), "the guest's store at 0x2000");
        assertEquals(0x77L, run.serial().writtenValues().get(1), "the guest echoed the host's byte at 0x2004");
    }

    @Test
    void haltWithoutIrqchip_isReportedAsExit() throws Exception {
        assertEquals("0: the guest halted (HLT)", runIoGuest().exit());
    }

    @Test
    void pause_spinningGuest_stopsProgressUntilResumed() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, false)) {
            m.load(ENTRY, TinyGuests.SPIN_COUNTER);
            Vcpu vcpu = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0));
            vcpu.start();
            awaitCounterAbove(m, 0);
            vcpu.pause(TIMEOUT);
            assertEquals(Vcpu.State.PAUSED, vcpu.state());
            int frozen = m.ram.memory().readInt(0x2000);
            Thread.sleep(100);
            assertEquals(frozen, m.ram.memory().readInt(0x2000), "the counter moved while paused");
            vcpu.resume();
            awaitCounterAbove(m, frozen);
            assertEquals(Vcpu.State.RUNNING, vcpu.state());
        }
    }

    private static void awaitCounterAbove(TestMachine m, int value) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (Integer.compareUnsigned(m.ram.memory().readInt(0x2000), value) <= 0) {
            assertTrue(System.nanoTime() < deadline, "the guest counter did not pass " + value);
            Thread.sleep(5);
        }
    }

    private static CountDownLatch reportLatch(TestMachine m, int expected) {
        CountDownLatch reported = new CountDownLatch(expected);
        m.portIo.register(TinyGuests.REPORT_PORT, 1, new RecordingDevice(0) {
            @Override
            public void write(long offset, int size, long value) {
                super.write(offset, size, value);
                reported.countDown();
            }
        }, "report");
        return reported;
    }

    @Test
    void stop_vcpuHaltedInsideKernel_endsTheThread() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, true)) {
            m.load(ENTRY, TinyGuests.REPORT_THEN_HALT);
            CountDownLatch reported = reportLatch(m, 1);
            Vcpu vcpu = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0));
            vcpu.start();
            assertTrue(reported.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
            Thread.sleep(50); // let it reach HLT, where it blocks in the kernel
            assertEquals(Vcpu.State.RUNNING, vcpu.state());
            vcpu.stop(TIMEOUT);
            assertTrue(vcpu.isStopped());
            assertTrue(m.exits.isEmpty(), "HLT must stay in the kernel with an irqchip: " + m.exits);
        }
    }

    @Test
    void pause_vcpuHaltedInsideKernel_pausesAndResumes() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, true)) {
            m.load(ENTRY, TinyGuests.REPORT_THEN_HALT);
            CountDownLatch reported = reportLatch(m, 1);
            Vcpu vcpu = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0));
            vcpu.start();
            assertTrue(reported.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
            vcpu.pause(TIMEOUT);
            assertEquals(Vcpu.State.PAUSED, vcpu.state());
            vcpu.resume();
            vcpu.pause(TIMEOUT);
            assertEquals(Vcpu.State.PAUSED, vcpu.state());
        }
    }

    @Test
    void twoVcpus_eachRunsWithItsOwnRegisters() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, false)) {
            m.load(ENTRY, TinyGuests.REPORT_BL);
            RecordingDevice report = new RecordingDevice(0);
            CountDownLatch done = new CountDownLatch(2);
            m.portIo.register(TinyGuests.REPORT_PORT, 1, report, "report");
            m.portIo.register(TinyGuests.DONE_PORT, 1, new RecordingDevice(0) {
                @Override
                public void write(long offset, int size, long value) {
                    done.countDown();
                }
            }, "done");
            Vcpu a = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0x10));
            Vcpu b = m.addVcpu(1, TinyGuests.realMode(ENTRY, 0x11));
            a.start();
            b.start();
            assertTrue(done.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "exits: " + m.exits);
            assertEquals(List.of(0x10L, 0x11L), report.writtenValues().stream().sorted().toList());
            assertNotEquals(a.id(), b.id());
        }
    }

    @Test
    void portIoHotPath_warmExits_allocateNothingOnTheVcpuThread() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long[] allocated = new long[2];
        CountDownLatch done = new CountDownLatch(1);
        try (TestMachine m = new TestMachine(64 * 1024, false)) {
            m.portIo.register(TinyGuests.REPORT_PORT, 1, new dev.flotilla.vmm.bus.BusDevice() {
                private int count;

                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    count++;
                    // The first 30,000 exits warm up the JIT; a per-exit allocation would then show
                    // as at least 16 bytes x 20,000 = 320 KB, far above the bound below.
                    if (count == 30_000) {
                        allocated[0] = threads.getCurrentThreadAllocatedBytes();
                    } else if (count == 50_000) {
                        allocated[1] = threads.getCurrentThreadAllocatedBytes();
                    }
                }
            }, "counter");
            m.portIo.register(TinyGuests.DONE_PORT, 1, new RecordingDevice(0) {
                @Override
                public void write(long offset, int size, long value) {
                    done.countDown();
                }
            }, "done");
            m.load(ENTRY, TinyGuests.MANY_OUTS);
            m.addVcpu(0, TinyGuests.realMode(ENTRY, 0)).start();
            assertTrue(done.await(60, TimeUnit.SECONDS), "guest did not finish: " + m.exits);
        }
        long bytes = allocated[1] - allocated[0];
        assertTrue(bytes < 16 * 1024, "20,000 port I/O exits allocated " + bytes + " bytes on the vCPU thread");
    }

    @Test
    void exitCounts_ioAndMemoryGuest_countEachPortMmioAndHaltExit() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, false)) {
            m.portIo.register(0x3F8, 1, new RecordingDevice(0), "recorder");
            m.portIo.register(TinyGuests.DONE_PORT, 1, new RecordingDevice(0), "done");
            m.mmio.register(TinyGuests.MMIO_BASE, 0x100, new RecordingDevice(0), "mmio recorder");
            m.load(ENTRY, TinyGuests.IO_AND_MEMORY);
            Vcpu vcpu = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0));
            vcpu.start();
            assertEquals("0: the guest halted (HLT)", m.exits.poll(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
            vcpu.stop(TIMEOUT);
            // out, in, out, done-out: 4 port exits; one MMIO write and one MMIO read; then HLT.
            assertEquals(new ExitCounts(4, 2, 1, 0, 0, 0), vcpu.exitCounts());
        }
    }

    @Test
    void exitCounts_manyOutsGuest_countEveryPortWrite() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, false)) {
            m.portIo.register(TinyGuests.REPORT_PORT, 1, new RecordingDevice(0) {
                @Override
                public void write(long offset, int size, long value) {} // keep no list of 50,000
            }, "sink");
            m.portIo.register(TinyGuests.DONE_PORT, 1, new RecordingDevice(0), "done");
            m.load(ENTRY, TinyGuests.MANY_OUTS);
            Vcpu vcpu = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0));
            vcpu.start();
            assertEquals("0: the guest halted (HLT)", m.exits.poll(60, TimeUnit.SECONDS));
            vcpu.stop(TIMEOUT);
            ExitCounts counts = vcpu.exitCounts();
            assertEquals(50_001, counts.io(), "50,000 reports and the done write: " + counts);
            assertEquals(1, counts.halt());
        }
    }

    @Test
    void exitCounts_pausedHaltedVcpu_countsTheKickAsInterrupted() throws Exception {
        try (TestMachine m = new TestMachine(64 * 1024, true)) {
            m.load(ENTRY, TinyGuests.REPORT_THEN_HALT);
            CountDownLatch reported = reportLatch(m, 1);
            Vcpu vcpu = m.addVcpu(0, TinyGuests.realMode(ENTRY, 0));
            vcpu.start();
            assertTrue(reported.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
            Thread.sleep(50); // let it reach HLT, which stays in the kernel with an irqchip
            vcpu.pause(TIMEOUT);
            ExitCounts counts = vcpu.exitCounts();
            assertEquals(1, counts.io(), counts.toString());
            assertTrue(counts.interrupted() >= 1, "the pause kick was not counted: " + counts);
            assertEquals(0, counts.halt(), counts.toString());
        }
    }
}
