package dev.flotilla.vmm.devices.virtio.net;

import dev.flotilla.vmm.sys.Libc;
import dev.flotilla.vmm.sys.Tun;

import java.lang.foreign.MemorySegment;

/**
 * A Linux tap interface opened through /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and
 * a 12-byte header (virtio_net_hdr_v1, the layout a VERSION_1 driver uses), non-blocking.
 *
 * <p>If the interface does not exist, TUNSETIFF creates it (CAP_NET_ADMIN needed); it then lives
 * as long as this fd (a non-persistent tap). Addresses, bridges and up/down are the caller's job
 * ({@code ip link set NAME up}, {@code ip addr add ... dev NAME}, CNI plugins); the VMM only moves
 * frames. A tap created beforehand (e.g. {@code ip tuntap add NAME mode tap}) is attached as is.
 */
public final class TapBackend implements NetBackend {

    private final String name;
    private final int fd;
    private volatile boolean closed;

    public TapBackend(String name) {
        this.name = name;
        this.fd = Tun.openTap(name, NetHeader.SIZE);
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public long read(MemorySegment buffer) {
        return Libc.readOrErrno(fd, buffer);
    }

    @Override
    public long writev(MemorySegment iovecs, int count) {
        return Libc.writevOrErrno(fd, iovecs, count);
    }

    @Override
    public void setOffload(int tunFlags) {
        Tun.setOffload(fd, tunFlags);
    }

    @Override
    public String describe() {
        return "tap " + name;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }
}
