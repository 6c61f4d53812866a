package dev.flotilla.controlplane.scheduler;

/** An amount of node resources: vCPUs, memory in MiB and VM slots. */
public record Resources(long vcpus, long memoryMiB, long vms) {
    public static final Resources ZERO = new Resources(0, 0, 0);

    public Resources plus(Resources other) {
        return new Resources(vcpus + other.vcpus, memoryMiB + other.memoryMiB, vms + other.vms);
    }

    public Resources minus(Resources other) {
        return new Resources(vcpus - other.vcpus, memoryMiB - other.memoryMiB, vms - other.vms);
    }
}
