package dev.flotilla.vmm.boot;

import dev.flotilla.vmm.arch.x86_64.Layout;

import java.nio.charset.StandardCharsets;

/**
 * A validated kernel command line. Immutable: {@link #append} returns a new one. The VMM starts
 * from the user's line and appends its own parameters, such as one
 * {@code virtio_mmio.device=4K@0xc0001000:5} per virtio-mmio device.
 *
 * <p>Rules: the line is a C string in guest memory, so it may not contain NUL; the kernel splits
 * parameters on whitespace and treats newlines as separators in odd places (bootconfig), so line
 * breaks are refused too. Its UTF-8 bytes plus the terminating NUL must fit in
 * {@link Layout#CMDLINE_MAX}; a bzImage may further limit it by its setup header's cmdline_size
 * (Documentation/x86/boot.rst), which the loader checks.
 */
public final class KernelCommandLine {

    private final String text;

    private KernelCommandLine(String text) {
        this.text = text;
    }

    public static KernelCommandLine empty() {
        return new KernelCommandLine("");
    }

    /** Validates {@code line} (leading and trailing whitespace dropped). */
    public static KernelCommandLine of(String line) throws BootException {
        String trimmed = line.strip();
        checkCharacters(trimmed, "kernel command line");
        checkLength(trimmed);
        return new KernelCommandLine(trimmed);
    }

    /** Appends one parameter (a word such as {@code quiet}, or {@code key=value} already joined). */
    public KernelCommandLine append(String parameter) throws BootException {
        String p = parameter.strip();
        if (p.isEmpty()) {
            throw new BootException("a kernel command line parameter must not be empty");
        }
        checkCharacters(p, "kernel command line parameter '" + printable(p) + "'");
        String joined = text.isEmpty() ? p : text + " " + p;
        checkLength(joined);
        return new KernelCommandLine(joined);
    }

    /**
     * Appends {@code key=value}. The key must be a single word without '='; a value with spaces
     * is put in double quotes, which the kernel's parser strips (lib/cmdline.c, next_arg).
     */
    public KernelCommandLine append(String key, String value) throws BootException {
        if (key.isEmpty() || key.chars().anyMatch(c -> c == '=' || c == '"' || Character.isWhitespace(c))) {
            throw new BootException("kernel command line key '" + printable(key)
                    + "' must be one word without '=', quotes or spaces");
        }
        if (value.indexOf('"') >= 0) {
            throw new BootException("kernel command line value for " + key + " must not contain a double quote");
        }
        boolean quote = value.isEmpty() || value.chars().anyMatch(Character::isWhitespace);
        return append(key + "=" + (quote ? "\"" + value + "\"" : value));
    }

    /** The line without the terminating NUL. */
    @Override
    public String toString() {
        return text;
    }

    /** Length in bytes without the NUL. */
    public int length() {
        return text.getBytes(StandardCharsets.UTF_8).length;
    }

    /** The bytes to put in guest memory: UTF-8, NUL-terminated. */
    public byte[] toCString() {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[b.length + 1];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }

    private static void checkCharacters(String s, String what) throws BootException {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == 0 || c == '\n' || c == '\r') {
                throw new BootException("%s contains a %s at position %d; it must be a single line without NUL bytes"
                        .formatted(what, c == 0 ? "NUL byte" : "line break", i));
            }
        }
    }

    private static void checkLength(String s) throws BootException {
        int bytes = s.getBytes(StandardCharsets.UTF_8).length;
        if (bytes + 1 > Layout.CMDLINE_MAX) {
            throw new BootException("kernel command line is too long: %d bytes plus its NUL terminator, at most %d allowed"
                    .formatted(bytes, Layout.CMDLINE_MAX));
        }
    }

    private static String printable(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
