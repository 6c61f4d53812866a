package dev.flotilla.vmm.devices.virtio.net;

import dev.flotilla.vmm.sys.Errno;
import dev.flotilla.vmm.sys.Iovec;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/** A backend for unit tests: frames to hand the device, and what it wrote (gathered from its real iovecs). */
final class FakeBackend implements NetBackend {
    final Deque<byte[]> incoming = new ArrayDeque<>();
    final List<byte[]> sent = new ArrayList<>();
    int offload = -1;
    boolean closed;

    @Override
    public int fd() {
        return -1;
    }

    @Override
    public long read(MemorySegment buffer) {
        byte[] frame = incoming.poll();
        if (frame == null) {
            return -Errno.EAGAIN;
        }
        int n = (int) Math.min(frame.length, buffer.byteSize());
        MemorySegment.copy(frame, 0, buffer, ValueLayout.JAVA_BYTE, 0, n);
        return n;
    }

    @Override
    public long writev(MemorySegment iovecs, int count) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < count; i++) {
            MemorySegment part = MemorySegment.ofAddress(Iovec.base(iovecs, i)).reinterpret(Iovec.length(iovecs, i));
            out.writeBytes(part.toArray(ValueLayout.JAVA_BYTE));
        }
        sent.add(out.toByteArray());
        return out.size();
    }

    @Override
    public void setOffload(int tunFlags) {
        offload = tunFlags;
    }

    @Override
    public String describe() {
        return "fake";
    }

    @Override
    public void close() {
        closed = true;
    }
}
