package dev.flotilla.vmm.devices.virtio.queue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One fuzz input for the queue layer: a ring layout, negotiated features, queue size and
 * addresses, the complete guest memory, and guest writes applied between device passes (the
 * driver racing the device). Self-contained, so a crashing input replays without the generator.
 *
 * <p>File format (UTF-8 lines {@code key=value}): packed, indirect, eventIdx, size, desc, driver,
 * device, memory (base64), mutations (hex: 4-byte offset + 1-byte value, repeated), and optionally
 * expect (a {@link QueueRejection} the replay must see counted).
 */
record FuzzCase(boolean packed, boolean indirect, boolean eventIdx, int size,
                long desc, long driver, long device, byte[] memory, byte[] mutations, QueueRejection expected) {

    static final int MEMORY_SIZE = 0x4000;
    static final long DESC = 0x0000;
    static final long DRIVER = 0x1000;
    static final long DEVICE = 0x2000;
    /** Where the generator places indirect tables. */
    static final int TABLE_AREA = 0x3000;

    /** Ring contents shaped like descriptors, with hostile values mixed in at every field. */
    static FuzzCase generate(boolean packed, boolean indirect, boolean eventIdx, int size, long seed, int mutationCount) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] m = new byte[MEMORY_SIZE];
        r.nextBytes(m);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(m).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < size; i++) {
            writeDescriptor(b, (int) DESC + 16 * i, r, size, packed);
        }
        for (int i = 0; i < (MEMORY_SIZE - TABLE_AREA) / 16; i++) {
            writeDescriptor(b, TABLE_AREA + 16 * i, r, size, packed);
        }
        if (!packed) {
            b.putShort((int) DRIVER, (short) r.nextInt(2));
            b.putShort((int) DRIVER + 2, (short) (r.nextInt(8) == 0 ? r.nextInt(1 << 16) : r.nextInt(size + 1)));
            for (int i = 0; i < size; i++) {
                b.putShort((int) DRIVER + 4 + 2 * i, (short) (r.nextInt(16) == 0 ? r.nextInt(1 << 16) : r.nextInt(size)));
            }
            b.putShort((int) DRIVER + 4 + 2 * size, (short) r.nextInt(size + 2));
        } else {
            b.putShort((int) DRIVER, (short) r.nextInt(1 << 16));
            b.putShort((int) DRIVER + 2, (short) r.nextInt(4));
        }
        byte[] mutations = new byte[5 * mutationCount];
        java.nio.ByteBuffer mb = java.nio.ByteBuffer.wrap(mutations);
        for (int i = 0; i < mutationCount; i++) {
            // Mostly within the rings, where a racing driver writes.
            int offset = r.nextInt(4) == 0 ? r.nextInt(MEMORY_SIZE) : (int) (r.nextBoolean() ? DESC + r.nextInt(16 * size) : DRIVER + r.nextInt(4 + 2 * size + 2));
            mb.putInt(offset).put((byte) r.nextInt(256));
        }
        return new FuzzCase(packed, indirect, eventIdx, size, DESC, DRIVER, DEVICE, m, mutations, null);
    }

    private static void writeDescriptor(java.nio.ByteBuffer b, int at, SplittableRandom r, int size, boolean packed) {
        long address = switch (r.nextInt(8)) {
            case 0 -> r.nextLong();
            case 1 -> MEMORY_SIZE - r.nextInt(32);
            case 2 -> TABLE_AREA + 16L * r.nextInt((MEMORY_SIZE - TABLE_AREA) / 16);
            default -> r.nextInt(MEMORY_SIZE);
        };
        int length = switch (r.nextInt(8)) {
            case 0 -> r.nextInt();
            case 1 -> 0;
            case 2 -> 16 * r.nextInt(1, size + 3);
            default -> r.nextInt(256);
        };
        int flags = 0;
        if (r.nextInt(3) == 0) flags |= 1;     // NEXT
        if (r.nextBoolean()) flags |= 2;       // WRITE
        if (r.nextInt(6) == 0) flags |= 4;     // INDIRECT
        if (packed) {
            // Mostly available for wrap counter 1 (AVAIL set, USED clear), sometimes anything.
            flags |= r.nextInt(5) == 0 ? (r.nextInt(4) << 7 & 0x80) | (r.nextBoolean() ? 0x8000 : 0) : 0x80;
        }
        int nextOrId = r.nextInt(8) == 0 ? r.nextInt(1 << 16) : r.nextInt(size + 1);
        b.putLong(at, address);
        b.putInt(at + 8, length);
        if (packed) {
            b.putShort(at + 12, (short) nextOrId);
            b.putShort(at + 14, (short) flags);
        } else {
            b.putShort(at + 12, (short) flags);
            b.putShort(at + 14, (short) nextOrId);
        }
    }

    void write(Path file) throws IOException {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("packed", Boolean.toString(packed));
        fields.put("indirect", Boolean.toString(indirect));
        fields.put("eventIdx", Boolean.toString(eventIdx));
        fields.put("size", Integer.toString(size));
        fields.put("desc", Long.toString(desc));
        fields.put("driver", Long.toString(driver));
        fields.put("device", Long.toString(device));
        fields.put("memory", Base64.getEncoder().encodeToString(memory));
        fields.put("mutations", HexFormat.of().formatHex(mutations));
        if (expected != null) {
            fields.put("expect", expected.name());
        }
        StringBuilder sb = new StringBuilder("# virtqueue fuzz input; replayed by FuzzRegressionTest\n");
        fields.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Files.createDirectories(file.getParent());
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    }

    static FuzzCase read(Path file) throws IOException {
        Map<String, String> f = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            f.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return new FuzzCase(Boolean.parseBoolean(f.get("packed")), Boolean.parseBoolean(f.get("indirect")),
                Boolean.parseBoolean(f.get("eventIdx")), Integer.parseInt(f.get("size")),
                Long.parseLong(f.get("desc")), Long.parseLong(f.get("driver")), Long.parseLong(f.get("device")),
                Base64.getDecoder().decode(f.get("memory")), HexFormat.of().parseHex(f.getOrDefault("mutations", "")),
                f.containsKey("expect") ? QueueRejection.valueOf(f.get("expect")) : null);
    }

    @Override
    public String toString() {
        return "FuzzCase[packed=%s, indirect=%s, eventIdx=%s, size=%d, mutations=%d]"
                .formatted(packed, indirect, eventIdx, size, mutations.length / 5);
    }
}
