package dev.flotilla.cri.service;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Network settings the kubelet pushes with UpdateRuntimeConfig: the node's pod CIDRs (one per IP family). The
 * node-agent's CNI setup subscribes to hand them to IPAM plugins that need them (e.g. host-local with a
 * {@code podCIDR} range).
 */
public final class PodNetworkSettings {

    private volatile List<String> podCidrs = List.of();
    private final List<Consumer<List<String>>> listeners = new CopyOnWriteArrayList<>();

    public List<String> podCidrs() {
        return podCidrs;
    }

    /** Calls {@code listener} with every later change, on the gRPC thread that received it. */
    public void onChange(Consumer<List<String>> listener) {
        listeners.add(listener);
    }

    void update(List<String> cidrs) {
        List<String> copy = List.copyOf(cidrs);
        if (copy.equals(podCidrs)) {
            return;
        }
        podCidrs = copy;
        for (Consumer<List<String>> listener : listeners) {
            listener.accept(copy);
        }
    }
}
