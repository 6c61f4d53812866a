package dev.flotilla.node.capacity;

import dev.flotilla.node.api.ApiException;

/**
 * Admission control: every running sandbox holds its vCPUs and guest memory here from creation until its VM
 * is gone. A request larger than the whole node is unprocessable (422: it never fits, retrying is pointless);
 * one that does not fit what is free now conflicts with the sandboxes already there (409).
 */
public final class ResourceLedger {
    private final Capacity capacity;
    private int vcpusUsed;
    private long memoryUsed;
    private int vms;

    public ResourceLedger(Capacity capacity) {
        this.capacity = capacity;
    }

    public Capacity capacity() {
        return capacity;
    }

    public synchronized void reserve(String sandbox, int vcpus, long memoryMiB) {
        if (vcpus > capacity.vcpus() || memoryMiB > capacity.memoryMiB()) {
            throw new ApiException(422, "sandbox %s asks for %d vCPUs and %d MiB, more than this node offers in total (%d vCPUs, %d MiB after overcommit)"
                    .formatted(sandbox, vcpus, memoryMiB, capacity.vcpus(), capacity.memoryMiB()));
        }
        if (vms + 1 > capacity.maxVms()) {
            throw new ApiException(409, "sandbox %s does not fit: this node already runs its maximum of %d VMs"
                    .formatted(sandbox, capacity.maxVms()));
        }
        if (vcpusUsed + vcpus > capacity.vcpus()) {
            throw new ApiException(409, "sandbox %s does not fit: it asks for %d vCPUs but only %d of %d are free"
                    .formatted(sandbox, vcpus, capacity.vcpus() - vcpusUsed, capacity.vcpus()));
        }
        if (memoryUsed + memoryMiB > capacity.memoryMiB()) {
            throw new ApiException(409, "sandbox %s does not fit: it asks for %d MiB but only %d of %d MiB are free"
                    .formatted(sandbox, memoryMiB, capacity.memoryMiB() - memoryUsed, capacity.memoryMiB()));
        }
        vcpusUsed += vcpus;
        memoryUsed += memoryMiB;
        vms++;
    }

    public synchronized void release(int vcpus, long memoryMiB) {
        vcpusUsed -= vcpus;
        memoryUsed -= memoryMiB;
        vms--;
        if (vcpusUsed < 0 || memoryUsed < 0 || vms < 0) {
            throw new IllegalStateException("resource ledger went negative: a sandbox was released twice");
        }
    }

    public synchronized Usage usage() {
        return new Usage(vcpusUsed, memoryUsed, vms);
    }

    public record Usage(int vcpus, long memoryMiB, int vms) {
    }
}
