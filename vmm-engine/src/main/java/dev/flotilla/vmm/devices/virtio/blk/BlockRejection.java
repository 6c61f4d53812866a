package dev.flotilla.vmm.devices.virtio.blk;

/**
 * Why a virtio-blk request was not executed, with the status the driver gets (§5.2.6). Every
 * request a guest can malform ends in one of these, never in an exception.
 */
public enum BlockRejection {
    STATUS_MISSING(Status.NONE, "no device-writable byte for the status"),
    HEADER_TOO_SHORT(Status.IOERR, "fewer than 16 device-readable bytes for the request header"),
    UNSUPPORTED_TYPE(Status.UNSUPP, "request type not supported or its feature not negotiated"),
    UNEXPECTED_READABLE_DATA(Status.IOERR, "device-readable data after the header of a request that takes none"),
    UNEXPECTED_WRITABLE_DATA(Status.IOERR, "device-writable data before the status of a request that returns none"),
    DATA_NOT_SECTOR_MULTIPLE(Status.IOERR, "data length is not a multiple of 512 bytes"),
    SECTOR_OUT_OF_RANGE(Status.IOERR, "sector range beyond the disk's capacity"),
    REQUEST_TOO_LARGE(Status.IOERR, "data longer than seg_max * size_max"),
    READ_ONLY(Status.IOERR, "write to a read-only disk"),
    BAD_SEGMENT_LIST(Status.IOERR, "discard/write-zeroes data is empty or not whole 16-byte segments"),
    TOO_MANY_SEGMENTS(Status.IOERR, "more discard/write-zeroes segments than the config allows"),
    SEGMENT_TOO_LARGE(Status.IOERR, "a discard/write-zeroes segment longer than the config allows"),
    UNSUPPORTED_SEGMENT_FLAGS(Status.UNSUPP, "discard with the unmap flag, or unknown segment flags"),
    ID_BUFFER_EMPTY(Status.IOERR, "GET_ID without a device-writable data byte");

    /** Status byte values (§5.2.6). */
    public static final class Status {
        private Status() {}
        public static final int OK = 0;
        public static final int IOERR = 1;
        public static final int UNSUPP = 2;
        /** No status can be written (there is no writable byte for it). */
        public static final int NONE = -1;
    }

    private final int status;
    private final String description;

    BlockRejection(int status, String description) {
        this.status = status;
        this.description = description;
    }

    /** The status byte the driver gets, or {@link Status#NONE}. */
    public int status() {
        return status;
    }

    public String description() {
        return description;
    }
}
