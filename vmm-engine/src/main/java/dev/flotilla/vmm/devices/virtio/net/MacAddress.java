package dev.flotilla.vmm.devices.virtio.net;

import java.util.HexFormat;
import java.util.random.RandomGenerator;

/** A 48-bit Ethernet address, as the guest sees it in the virtio-net config space (§5.1.4 mac). */
public record MacAddress(long bits) {

    public MacAddress {
        if ((bits & ~0xffff_ffff_ffffL) != 0) {
            throw new IllegalArgumentException("a MAC address has 48 bits, not " + Long.toHexString(bits));
        }
    }

    /** Parses {@code aa:bb:cc:dd:ee:ff} (or with '-'); the address must be unicast. */
    public static MacAddress parse(String text) {
        String[] parts = text == null ? new String[0] : text.split("[:-]");
        if (parts.length != 6) {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)");
        }
        long bits = 0;
        for (String p : parts) {
            if (p.length() != 2 || !HexFormat.isHexDigit(p.charAt(0)) || !HexFormat.isHexDigit(p.charAt(1))) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address: '" + p + "' is not a hex byte");
            }
            bits = bits << 8 | HexFormat.fromHexDigits(p);
        }
        MacAddress mac = new MacAddress(bits);
        if (mac.isMulticast()) {
            throw new IllegalArgumentException("MAC address " + text + " is a multicast address; a NIC needs a unicast one");
        }
        return mac;
    }

    /** A random locally administered unicast address (first byte x2, x6, xa or xe). */
    public static MacAddress random(RandomGenerator random) {
        long bits = random.nextLong() & 0xffff_ffff_ffffL;
        bits = (bits & ~(0x01L << 40)) | (0x02L << 40);
        return new MacAddress(bits);
    }

    /** Byte {@code i} (0 = first on the wire). */
    public int octet(int i) {
        return (int) (bits >>> (8 * (5 - i))) & 0xff;
    }

    public boolean isMulticast() {
        return (octet(0) & 1) != 0;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(17);
        for (int i = 0; i < 6; i++) {
            if (i > 0) {
                b.append(':');
            }
            b.append(HexFormat.of().toHexDigits((byte) octet(i)));
        }
        return b.toString();
    }
}
