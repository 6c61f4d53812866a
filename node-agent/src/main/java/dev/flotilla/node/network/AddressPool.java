package dev.flotilla.node.network;

import java.util.BitSet;

/**
 * Host-local IPv4 addresses from one CIDR, cut into subnets of {@code subnetPrefix} (one per bridge, since a Linux
 * bridge takes at most 1,023 ports): in each subnet offset 1 is the gateway (its bridge's address), the network and
 * broadcast addresses are never handed out, the rest go to sandboxes, lowest free first. A pool no larger than one
 * subnet is a single subnet. The pool itself holds no state that must survive a restart: the agent marks the
 * addresses of its persisted sandboxes as taken when it loads them.
 */
public final class AddressPool {
    private final int network;
    private final int prefixLength;
    private final int size;
    private final int subnetPrefix;
    private final int subnetSize;
    /** Taken addresses, and every subnet's network, gateway and broadcast address (never handed out). */
    private final BitSet taken = new BitSet();
    private final int reserved;

    /** The whole pool as one subnet. */
    public AddressPool(String cidr) {
        this(cidr, 32);
    }

    /** {@code cidr} cut into subnets of {@code subnetPrefix} (or one subnet when the pool is not larger). */
    public AddressPool(String cidr, int subnetPrefix) {
        String[] parts = cidr.strip().split("/");
        if (parts.length != 2) {
            throw new IllegalArgumentException("address pool " + cidr + " is not in CIDR notation (a.b.c.d/len)");
        }
        int len;
        try {
            len = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("address pool " + cidr + " has no numeric prefix length");
        }
        if (len < 8 || len > 29) {
            throw new IllegalArgumentException("address pool " + cidr + ": the prefix length must be 8 to 29");
        }
        int mask = (int) (0xFFFFFFFFL << (32 - len));
        this.network = parse(parts[0], cidr) & mask;
        this.prefixLength = len;
        this.size = 1 << (32 - len);
        if (subnetPrefix < len || subnetPrefix > 30) {
            subnetPrefix = len; // one subnet: the pool
        }
        this.subnetPrefix = subnetPrefix;
        this.subnetSize = 1 << (32 - subnetPrefix);
        for (int start = 0; start < size; start += subnetSize) {
            taken.set(start, start + 2);
            taken.set(start + subnetSize - 1);
        }
        this.reserved = taken.cardinality();
    }

    private static int parse(String address, String cidr) {
        String[] octets = address.split("\\.");
        if (octets.length != 4) {
            throw new IllegalArgumentException("address pool " + cidr + " does not start with an IPv4 address");
        }
        int value = 0;
        for (String o : octets) {
            int b;
            try {
                b = Integer.parseInt(o);
            } catch (NumberFormatException e) {
                b = -1;
            }
            if (b < 0 || b > 255) {
                throw new IllegalArgumentException("address pool " + cidr + " has an invalid octet '" + o + "'");
            }
            value = value << 8 | b;
        }
        return value;
    }

    static String format(int address) {
        return (address >>> 24) + "." + (address >>> 16 & 0xFF) + "." + (address >>> 8 & 0xFF) + "." + (address & 0xFF);
    }

    /** The first subnet's gateway. */
    public String gateway() {
        return format(network + 1);
    }

    /** The gateway of the subnet {@code address} lies in (its bridge's address). */
    public String gatewayOf(String address) {
        return gatewayOfSubnet(subnetOf(address));
    }

    /** The gateway of subnet {@code index}. */
    public String gatewayOfSubnet(int index) {
        return format(network + index * subnetSize + 1);
    }

    /** Subnet {@code index} in CIDR notation. */
    public String subnetCidr(int index) {
        return format(network + index * subnetSize) + "/" + subnetPrefix;
    }

    /** Which subnet (0, 1, …) {@code address} lies in; it must lie in the pool. */
    public int subnetOf(String address) {
        int offset = offsetOf(address);
        if (offset < 0) {
            throw new IllegalArgumentException(address + " is not in the address pool " + cidr());
        }
        return offset / subnetSize;
    }

    /** How many subnets the pool is cut into. */
    public int subnets() {
        return size / subnetSize;
    }

    /** The prefix length sandboxes and bridges use: their subnet's. */
    public int prefixLength() {
        return subnetPrefix;
    }

    /** The prefix length of the pool as configured. */
    public int poolPrefixLength() {
        return prefixLength;
    }

    public String cidr() {
        return format(network) + "/" + prefixLength;
    }

    /** Takes the lowest free address; fails with a sentence when the pool is exhausted. */
    public synchronized String allocate() {
        int offset = taken.nextClearBit(0);
        if (offset >= size) {
            throw new IllegalStateException("the address pool " + cidr() + " is exhausted (" + (size - reserved) + " addresses)");
        }
        taken.set(offset);
        return format(network + offset);
    }

    /** Marks an address as in use (a sandbox loaded from disk); false when it is outside the pool. */
    public synchronized boolean markTaken(String address) {
        int offset = offsetOf(address);
        if (!forSandboxes(offset)) {
            return false;
        }
        taken.set(offset);
        return true;
    }

    public synchronized void release(String address) {
        int offset = offsetOf(address);
        if (forSandboxes(offset)) {
            taken.clear(offset);
        }
    }

    /** Whether {@code address} lies in this pool (any address of the CIDR, gateway included). */
    public boolean contains(String address) {
        return offsetOf(address) >= 0;
    }

    public synchronized int inUse() {
        return taken.cardinality() - reserved;
    }

    /** Whether an offset may be a sandbox's: in the pool and not a subnet's network, gateway or broadcast address. */
    private boolean forSandboxes(int offset) {
        int inSubnet = offset % subnetSize;
        return offset >= 0 && inSubnet >= 2 && inSubnet < subnetSize - 1;
    }

    private int offsetOf(String address) {
        long offset = (parse(address, address) & 0xFFFFFFFFL) - (network & 0xFFFFFFFFL);
        return offset < 0 || offset >= size ? -1 : (int) offset;
    }
}
