package dev.flotilla.vmm;

/**
 * Guest I/O through a VM's virtio block and network devices, summed over the devices of each kind:
 * the counters those devices keep anyway, read without stopping them (each may be a request old).
 */
public record DeviceIoCounts(long blockRequests, long blockBytesRead, long blockBytesWritten,
                             long netRxBytes, long netTxBytes) {

    public static final DeviceIoCounts ZERO = new DeviceIoCounts(0, 0, 0, 0, 0);

    public DeviceIoCounts plus(DeviceIoCounts o) {
        return new DeviceIoCounts(blockRequests + o.blockRequests, blockBytesRead + o.blockBytesRead,
                blockBytesWritten + o.blockBytesWritten, netRxBytes + o.netRxBytes, netTxBytes + o.netTxBytes);
    }
}
