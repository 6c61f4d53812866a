package dev.flotilla.controlplane.scheduler;

import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.TaintEffect;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.RandomAccess;

/**
 * The nodes of a snapshot, in order, with the numbers the scheduler's scan reads for every node (capacity,
 * allocation, health, cordon, whether a taint can reject) also kept as columns of primitive arrays. The scan looks
 * at about a hundred consecutive nodes per request; reading them from a few contiguous arrays instead of three or
 * four objects per node scattered over the heap is what makes a scan over a 10,000-node fleet cheap. The node
 * records stay the authority: every column is derived from them in {@link #set}.
 *
 * <p>Not thread-safe. A table handed to the scheduler must not change while it runs; the placement path keeps one
 * up to date incrementally ({@link #set}, {@link #add}) on its own thread.
 */
public final class NodeTable {
    static final byte HEALTHY = 1;
    static final byte CORDONED = 2;
    /** The node has a taint that the taints filter may reject on (NoSchedule or NoExecute). */
    static final byte BLOCKING_TAINT = 4;

    private NodeInfo[] nodes;
    long[] capVcpus;
    long[] capMemory;
    long[] capVms;
    long[] allocVcpus;
    long[] allocMemory;
    long[] allocVms;
    byte[] flags;
    private int size;

    public NodeTable() {
        this(16);
    }

    private NodeTable(int capacity) {
        nodes = new NodeInfo[capacity];
        capVcpus = new long[capacity];
        capMemory = new long[capacity];
        capVms = new long[capacity];
        allocVcpus = new long[capacity];
        allocMemory = new long[capacity];
        allocVms = new long[capacity];
        flags = new byte[capacity];
    }

    public static NodeTable of(List<NodeInfo> nodes) {
        NodeTable table = new NodeTable(Math.max(16, nodes.size()));
        for (NodeInfo node : nodes) {
            table.add(node);
        }
        return table;
    }

    public int size() {
        return size;
    }

    public NodeInfo get(int index) {
        if (index >= size) {
            throw new IndexOutOfBoundsException(index);
        }
        return nodes[index];
    }

    /** Appends a node; returns its index. */
    public int add(NodeInfo node) {
        if (size == nodes.length) {
            int grown = nodes.length * 2;
            nodes = Arrays.copyOf(nodes, grown);
            capVcpus = Arrays.copyOf(capVcpus, grown);
            capMemory = Arrays.copyOf(capMemory, grown);
            capVms = Arrays.copyOf(capVms, grown);
            allocVcpus = Arrays.copyOf(allocVcpus, grown);
            allocMemory = Arrays.copyOf(allocMemory, grown);
            allocVms = Arrays.copyOf(allocVms, grown);
            flags = Arrays.copyOf(flags, grown);
        }
        size++;
        set(size - 1, node);
        return size - 1;
    }

    /** Replaces the node at {@code index} and its columns. */
    public void set(int index, NodeInfo node) {
        if (index >= size) {
            throw new IndexOutOfBoundsException(index);
        }
        nodes[index] = node;
        capVcpus[index] = node.capacity().vcpus();
        capMemory[index] = node.capacity().memoryMiB();
        capVms[index] = node.capacity().vms();
        allocVcpus[index] = node.allocated().vcpus();
        allocMemory[index] = node.allocated().memoryMiB();
        allocVms[index] = node.allocated().vms();
        byte flag = 0;
        if (node.healthy()) {
            flag |= HEALTHY;
        }
        if (node.cordoned()) {
            flag |= CORDONED;
        }
        for (Taint taint : node.taints()) {
            if (taint.effect() != TaintEffect.PREFER_NO_SCHEDULE) {
                flag |= BLOCKING_TAINT;
            }
        }
        flags[index] = flag;
    }

    /** An unmodifiable view of the nodes, in order. */
    public List<NodeInfo> asList() {
        return new View();
    }

    private final class View extends AbstractList<NodeInfo> implements RandomAccess {
        @Override
        public NodeInfo get(int index) {
            return NodeTable.this.get(index);
        }

        @Override
        public int size() {
            return size;
        }
    }
}
