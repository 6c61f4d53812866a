package dev.flotilla.vmm.devices.virtio.balloon;

/** Why (part of) a virtio-balloon request was ignored. Counted per reason and logged rate-limited. */
public enum BalloonRejection {
    PFN_LIST_NOT_WHOLE("inflate/deflate data is not a whole number of 32-bit page frame numbers"),
    PFN_LIST_TOO_LONG("inflate/deflate request with more page frame numbers than the per-request cap"),
    PFN_OUTSIDE_MEMORY("page frame number outside guest RAM (that page skipped)"),
    UNEXPECTED_WRITABLE_BUFFER("inflate/deflate/stats chain with device-writable buffers"),
    STATS_NOT_WHOLE("statistics data is not a whole number of 10-byte tag/value entries"),
    REPORT_READABLE_BUFFER("free page report with device-readable buffers"),
    REPORT_UNALIGNED("free page report range not 4 KiB aligned (the partial pages kept)");

    private final String description;

    BalloonRejection(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
