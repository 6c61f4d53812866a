/**
 * Virtio devices (virtio 1.2, OASIS) over the virtio-mmio transport: the part of the VMM the guest
 * touches most, so both its speed and its attack surface.
 *
 * <h2>Three layers, each testable alone</h2>
 * <pre>
 *   vCPU MMIO exit ──► mmio.MmioTransport (BusDevice)      registers, feature negotiation, status
 *   event loop ─────►        │  processQueueNotification(i)   state machine, interrupt status
 *   (ioeventfd)              ▼
 *                     VirtioDevice (rng, blk, net, balloon) request semantics; owns no threads or fds
 *                            │ pop / pushUsed / finishBatch
 *                            ▼
 *                     queue.Virtqueue (Split | Packed)      ring parsing and validation, used-ring
 *                            │                              batching, notification suppression
 *                            ▼
 *                     memory.GuestMemory                    bounds-checked guest RAM
 * </pre>
 * <ul>
 *   <li><b>Transport</b> ({@code mmio}): the version-2 register page (§4.2.2). It turns the driver's
 *       queue setup into {@link dev.flotilla.vmm.devices.virtio.queue.QueueConfig}s and, at
 *       DRIVER_OK, into running queues ({@code QueueConfig.activate} validates; a config is never
 *       run). Interrupts leave through an {@link dev.flotilla.vmm.interrupt.IrqLine}. KVM wiring is
 *       outside: register an ioeventfd at {@code base + QUEUE_NOTIFY_OFFSET} (datamatch = queue
 *       index) whose event-loop handler calls {@code processQueueNotification}, and back the
 *       IrqLine with an irqfd; the MMIO-write path keeps working without either.</li>
 *   <li><b>Queue</b> ({@code queue}): split (§2.7) and packed (§2.8) rings behind one device API.
 *       Only validated chains reach a device; everything a guest can get wrong is a named
 *       {@link dev.flotilla.vmm.devices.virtio.queue.QueueRejection}. No allocation per request.</li>
 *   <li><b>Device</b> ({@link dev.flotilla.vmm.devices.virtio.VirtioDevice}): what a request means.
 *       Called with the transport's lock held, from one thread at a time.</li>
 * </ul>
 *
 * <h2>In a VM: attach and the event loop</h2>
 * A {@link dev.flotilla.vmm.devices.virtio.VirtioDeviceConfig} in {@code VmConfig.devices()} is
 * validated up front; the build's devices step (package-private {@code VirtioDevices}) gives device
 * i the page at {@code Layout.VIRTIO_MMIO_BASE + i * 4K} and GSI {@code Layout.VIRTIO_IRQ_BASE + i},
 * registers its transport on the MMIO bus and appends {@code virtio_mmio.device=4K@0x...:IRQ} to the
 * kernel command line. Per queue an eventfd is registered with KVM_IOEVENTFD at QueueNotify
 * (datamatch = queue index), so a kick wakes the VM's {@code event.EventLoop} without a vCPU exit
 * to user space; without the capability the MMIO-write path posts the kick to the same loop. The
 * device's IrqLine is an irqfd (edge on its IOAPIC pin; InterruptStatus/InterruptACK carry what is
 * pending). Blocking device work (virtio-blk file I/O, one preadv/pwritev per request) runs on a
 * 2-thread per-VM executor; the thread that finishes a burst completes it itself under the
 * transport's lock ({@link dev.flotilla.vmm.devices.virtio.DeviceEnvironment#underLock}), or, when
 * a rate limiter may need a timer, through the loop
 * ({@link dev.flotilla.vmm.devices.virtio.DeviceEnvironment#onLoop}); either way one pass completes
 * every finished request and interrupts once. Host-side work
 * arriving at a device (virtio-vsock's host sockets) signals a per-device eventfd from
 * {@link dev.flotilla.vmm.devices.virtio.DeviceEnvironment#queueKick}, which the loop turns into
 * a queue pass; what a config starts beside its device (the vsock Unix bridge) is closed with it. Each config can
 * withhold VIRTIO_F_RING_PACKED / EVENT_IDX so both ring layouts are tested with Linux.
 *
 * <h2>Devices</h2>
 * <ul>
 *   <li>{@code rng} (4): entropy. {@code blk} (2): raw image files, I/O on the executor.</li>
 *   <li>{@code net} (1): a host tap (opened by {@code net.TapBackend}, which owns the fd; the
 *       device reads and writes it through {@code net.NetBackend}). The tap fd is watched
 *       edge-triggered on the event loop ({@code DeviceEnvironment.watchReadable}); received frames
 *       wait in one reused buffer while the guest has no receive buffers, transmitted frames go out
 *       with one writev straight from guest memory behind a validated header copy. Mergeable
 *       receive buffers, checksum and TSO offloads both ways (TUNSETOFFLOAD follows the guest).</li>
 *   <li>{@code balloon} (5): inflate/deflate, stats and free page reporting queues; released pages
 *       are madvise(MADV_DONTNEED)-ed, so the VM's resident memory shrinks
 *       ({@code GuestRam.residentBytes}). The host drives it through {@code MicroVm.virtioDevice}.</li>
 * </ul>
 *
 * <h2>Threat model</h2>
 * The guest kernel is hostile: it controls every byte of its RAM, including the rings, and every
 * register write. Goals: no JVM crash, no host memory outside the guest's touched, bounded work
 * per notification, no effect on other VMs, logs that cannot be flooded.
 * <table>
 *   <caption>Guest-controlled inputs and their defences</caption>
 *   <tr><th>Attack</th><th>Defence</th></tr>
 *   <tr><td>Ring or buffer addresses outside guest RAM, or wrapping past 2^64</td>
 *       <td>Rings checked (alignment, extent) at activation; every buffer and indirect table
 *       checked with {@code GuestMemory.contains} before use; accesses are bounds-checked anyway,
 *       and a stray {@code GuestMemoryException} stops the queue instead of escaping.</td></tr>
 *   <tr><td>Descriptor loops, chains longer than the ring, packed chains that never end</td>
 *       <td>Per-chain visited stamps (LOOP), chain length capped at the queue size
 *       (CHAIN_TOO_LONG), packed walk bounded by the ring (PACKED_CHAIN_INCOMPLETE).</td></tr>
 *   <tr><td>Indirect tables: nested, combined with NEXT, zero or odd length, huge</td>
 *       <td>One level only (NESTED_INDIRECT), INDIRECT_WITH_NEXT, BAD_INDIRECT_TABLE,
 *       entries capped at the queue size; only with VIRTIO_F_INDIRECT_DESC negotiated.</td></tr>
 *   <tr><td>avail->idx jumping ahead, head index or buffer id out of range</td>
 *       <td>The queue stops (AVAIL_INDEX_JUMP, HEAD_OUT_OF_RANGE); the transport sets
 *       DEVICE_NEEDS_RESET and sends a config-change interrupt (§2.1.2).</td></tr>
 *   <tr><td>Racing the device: rewriting descriptors while they are parsed</td>
 *       <td>Each field is read once and validated value-by-value; the fuzz tests mutate guest
 *       memory between device passes.</td></tr>
 *   <tr><td>Oversized requests (one chain covering all guest RAM)</td>
 *       <td>Per-device caps with a reason (e.g. {@code VirtioRng.MAX_BYTES_PER_REQUEST}).</td></tr>
 *   <tr><td>Notification storms, flooding the host log</td>
 *       <td>Work per kick is bounded by the ring size; every guest-triggered message goes through
 *       {@link dev.flotilla.vmm.logging.RateLimitedLog}; rejections are counted in
 *       {@link dev.flotilla.vmm.devices.virtio.queue.QueueMetrics} instead.</td></tr>
 *   <tr><td>Network frames: header-only or oversized chains (over 64 KiB + header), offloads or
 *       num_buffers the driver may not use, a header rewritten after the check</td>
 *       <td>Named {@code net.NetRejection}s, counted; the header is copied once, checked, and the
 *       copy (not guest memory) goes to the tap; a guest posting only tiny receive buffers gets its
 *       frame dropped, bounded by the ring size.</td></tr>
 *   <tr><td>Balloon page numbers outside RAM, huge PFN lists, unaligned reported ranges</td>
 *       <td>Each PFN checked against guest RAM (skipped and counted if outside), at most
 *       {@code PfnRanges.MAX_PFNS_PER_REQUEST} per request, reports trimmed to whole pages: no
 *       madvise ever reaches host memory outside the guest's mapping.</td></tr>
 *   <tr><td>Register abuse: wrong widths, out-of-order status, features not offered, legacy drivers</td>
 *       <td>Non-32-bit control accesses ignored; status steps enforced in order; FEATURES_OK refused
 *       without VIRTIO_F_VERSION_1 or with unoffered bits; queue registers only between
 *       FEATURES_OK and DRIVER_OK.</td></tr>
 * </table>
 * Not defended here: a guest keeping its own device busy (it only burns its own VM's event-loop
 * time, which the per-VM loop isolates), and denial of entropy to itself.
 */
package dev.flotilla.vmm.devices.virtio;
