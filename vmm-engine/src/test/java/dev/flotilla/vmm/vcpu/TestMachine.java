package dev.flotilla.vmm.vcpu;

import dev.flotilla.vmm.arch.x86_64.InitialCpuState;
import dev.flotilla.vmm.bus.Bus;
import dev.flotilla.vmm.kvm.Kvm;
import dev.flotilla.vmm.kvm.KvmVcpu;
import dev.flotilla.vmm.kvm.KvmVm;
import dev.flotilla.vmm.kvm.VcpuExit;
import dev.flotilla.vmm.memory.GuestRam;
import dev.flotilla.vmm.memory.MemoryRegion;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeoutException;

/** A bare VM for real-KVM tests: RAM, buses, vCPU threads; no boot loader, no devices of its own. */
final class TestMachine implements AutoCloseable {

    final Kvm kvm = Kvm.open();
    final KvmVm vm = kvm.createVm();
    final GuestRam ram;
    final Bus portIo = new Bus("port I/O");
    final Bus mmio = new Bus("MMIO");
    final List<Vcpu> vcpus = new ArrayList<>();
    final LinkedBlockingQueue<String> exits = new LinkedBlockingQueue<>();

    TestMachine(long ramBytes, boolean irqchip) {
        ram = GuestRam.allocate(ramBytes);
        int slot = 0;
        for (MemoryRegion r : ram.regions()) {
            vm.setUserMemoryRegion(slot++, r.guestAddress(), r.segment());
        }
        if (irqchip) {
            vm.createIrqchip();
        }
    }

    void load(long address, byte[] code) {
        ram.memory().write(address, code, 0, code.length);
    }

    Vcpu addVcpu(int id, InitialCpuState state) {
        KvmVcpu v = vm.createVcpu(id);
        if (state != null) {
            v.applyInitialState(state);
        }
        Vcpu vcpu = new Vcpu(v, portIo, mmio, new VcpuExitHandler() {
            @Override
            public Action onExit(int vcpuId, VcpuExit exit) {
                exits.add(vcpuId + ": " + exit.describe());
                return exit instanceof VcpuExit.Halt ? Action.STOP : Action.CONTINUE;
            }

            @Override
            public void onError(int vcpuId, Throwable error) {
                exits.add(vcpuId + ": error " + error);
            }
        }, "test-vcpu-" + id);
        vcpus.add(vcpu);
        return vcpu;
    }

    @Override
    public void close() throws TimeoutException {
        for (Vcpu v : vcpus) {
            v.stop(Duration.ofSeconds(5));
        }
        vm.close();
        ram.close();
        kvm.close();
    }
}
