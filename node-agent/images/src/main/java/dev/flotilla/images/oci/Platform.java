package dev.flotilla.images.oci;

/**
 * The platform an index entry is built for.
 *
 * @param os           e.g. {@code linux}
 * @param architecture GOARCH spelling, e.g. {@code amd64}
 * @param variant      e.g. {@code v8}, or null
 */
public record Platform(String os, String architecture, String variant) {
    /** The only platform our microVM guests run. */
    public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", null);

    /** True when {@code candidate} runs here: same os and architecture (amd64 has no variants we need). */
    public boolean accepts(Platform candidate) {
        return candidate != null && os.equals(candidate.os) && architecture.equals(candidate.architecture)
                && (variant == null || variant.equals(candidate.variant));
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant != null ? "/" + variant : "");
    }
}
