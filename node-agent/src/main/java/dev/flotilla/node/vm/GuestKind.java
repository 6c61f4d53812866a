package dev.flotilla.node.vm;

import com.fasterxml.jackson.annotation.JsonProperty;

/** What a sandbox VM boots. */
public enum GuestKind {
    /**
     * A few dozen bytes of machine code ({@link TinyGuest}): prints a line on the serial console, signals the
     * boot timer and halts. Runs on every kind of KVM, including PVM; used for density and for the API on hosts
     * where Linux guests cannot boot.
     */
    @JsonProperty("tiny") TINY,
    /** The Flotilla Linux guest (kernel + initramfs from guest/build.sh). Needs hardware virtualization. */
    @JsonProperty("linux") LINUX;

    /** The image name that selects the tiny guest through the control-plane contract, which only carries images. */
    public static final String TINY_IMAGE = "flotilla/tiny";
    /** The image name that selects the plain Linux guest (no container) through the contract. */
    public static final String LINUX_IMAGE = "flotilla/linux";

    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
