package dev.flotilla.images;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A content digest as OCI writes it: {@code algorithm:hex}. Only the algorithms the OCI image spec
 * registers (sha256, sha512) are accepted, in canonical lower-case hex, so that one piece of content
 * has exactly one spelling and can name a file in the store.
 *
 * @param algorithm {@code sha256} or {@code sha512}
 * @param hex       lower-case hex of the hash, 64 or 128 characters
 */
public record Digest(String algorithm, String hex) {
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SHA512 = Pattern.compile("[0-9a-f]{128}");

    public Digest {
        Pattern pattern = switch (algorithm) {
            case "sha256" -> SHA256;
            case "sha512" -> SHA512;
            default -> throw new IllegalArgumentException(
                    "digest algorithm '" + algorithm + "' is not supported (sha256 and sha512 are)");
        };
        if (hex == null || !pattern.matcher(hex).matches()) {
            throw new IllegalArgumentException("digest '" + algorithm + ":" + hex + "' is not "
                    + (algorithm.equals("sha256") ? 64 : 128) + " lower-case hex characters");
        }
    }

    /** Parses {@code sha256:<64 hex>}; throws IllegalArgumentException with a reason otherwise. */
    public static Digest parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("digest is missing");
        }
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("digest '" + text + "' has no 'algorithm:' prefix");
        }
        return new Digest(text.substring(0, colon), text.substring(colon + 1));
    }

    /** The sha256 digest of {@code bytes}. */
    public static Digest sha256(byte[] bytes) {
        return new Digest("sha256", HexFormat.of().formatHex(newHasher("sha256").digest(bytes)));
    }

    /** A fresh hasher for this digest's algorithm. */
    public MessageDigest newHasher() {
        return newHasher(algorithm);
    }

    /** The digest of {@code bytes} computed with this digest's algorithm. */
    public Digest computeFor(byte[] bytes) {
        return fromHasher(algorithm, newHasher().digest(bytes));
    }

    /** The digest a finished hasher of this algorithm produced. */
    public static Digest fromHasher(String algorithm, byte[] hash) {
        return new Digest(algorithm, HexFormat.of().formatHex(hash));
    }

    private static MessageDigest newHasher(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm.equals("sha256") ? "SHA-256" : "SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + algorithm, e);
        }
    }

    /** A short form for logs: {@code sha256:0123456789ab}. */
    public String shortForm() {
        return algorithm + ":" + hex.substring(0, 12);
    }

    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }
}
