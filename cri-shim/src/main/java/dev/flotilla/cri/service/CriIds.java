package dev.flotilla.cri.service;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Sandbox and container ids: 64 lower-case hex digits (256 random bits), the form the kubelet and crictl know from
 * other runtimes. Ids end up in file paths and VM names, so anything else is rejected before use.
 */
public final class CriIds {

    private static final Pattern ID = Pattern.compile("[0-9a-f]{64}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private CriIds() {
    }

    public static String newId() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    public static boolean isValid(String id) {
        return ID.matcher(id).matches();
    }
}
