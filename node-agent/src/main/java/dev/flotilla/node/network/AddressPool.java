package dev.flotilla.node.network;

import java.util.BitSet;

/**
 * Host-local IPv4 addresses from one CIDR: offset 1 is the gateway (the bridge), offsets 2 to size−2 go to
 * sandboxes, lowest free first. The pool itself holds no state that must survive a restart: the agent marks the
 * addresses of its persisted sandboxes as taken when it loads them.
 */
public final class AddressPool {
    private final int network;
    private final int prefixLength;
    private final int size;
    private final BitSet taken = new BitSet();

    public AddressPool(String cidr) {
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

    public String gateway() {
        return format(network + 1);
    }

    public int prefixLength() {
        return prefixLength;
    }

    public String cidr() {
        return format(network) + "/" + prefixLength;
    }

    /** Takes the lowest free address; fails with a sentence when the pool is exhausted. */
    public synchronized String allocate() {
        int offset = taken.nextClearBit(2);
        if (offset > size - 2) {
            throw new IllegalStateException("the address pool " + cidr() + " is exhausted (" + (size - 3) + " addresses)");
        }
        taken.set(offset);
        return format(network + offset);
    }

    /** Marks an address as in use (a sandbox loaded from disk); false when it is outside the pool. */
    public synchronized boolean markTaken(String address) {
        int offset = offsetOf(address);
        if (offset < 2 || offset > size - 2) {
            return false;
        }
        taken.set(offset);
        return true;
    }

    public synchronized void release(String address) {
        int offset = offsetOf(address);
        if (offset >= 2 && offset <= size - 2) {
            taken.clear(offset);
        }
    }

    /** Whether {@code address} lies in this pool (any address of the CIDR, gateway included). */
    public boolean contains(String address) {
        return offsetOf(address) >= 0;
    }

    public synchronized int inUse() {
        return taken.cardinality();
    }

    private int offsetOf(String address) {
        long offset = (parse(address, address) & 0xFFFFFFFFL) - (network & 0xFFFFFFFFL);
        return offset < 0 || offset >= size ? -1 : (int) offset;
    }
}
