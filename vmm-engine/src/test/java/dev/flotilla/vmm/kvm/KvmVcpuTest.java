package dev.flotilla.vmm.kvm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KvmVcpuTest {

    @Test
    void setLvtDeliveryMode_replacesOnlyModeBits() {
        byte[] regs = new byte[1024];
        regs[0x350] = (byte) 0x20;            // vector 0x20
        regs[0x351] = (byte) 0x07;            // mode bits 8..10 all set
        regs[0x352] = (byte) 0x01;            // mask bit 16
        KvmVcpu.setLvtDeliveryMode(regs, 0x350, 0b100);
        assertEquals(0x20, regs[0x350] & 0xFF);
        assertEquals(0x04, regs[0x351] & 0xFF);
        assertEquals(0x01, regs[0x352] & 0xFF);
    }
}
