/**
 * Virtqueues, device side: the split ring (§2.7, {@link dev.flotilla.vmm.devices.virtio.queue.SplitVirtqueue})
 * and the packed ring (§2.8, {@link dev.flotilla.vmm.devices.virtio.queue.PackedVirtqueue}) behind
 * {@link dev.flotilla.vmm.devices.virtio.queue.Virtqueue}.
 *
 * <p>Life cycle: the transport fills a {@link dev.flotilla.vmm.devices.virtio.queue.QueueConfig}
 * from the driver's register writes; {@code activate} validates it against guest memory and the
 * negotiated features and returns the running queue. A device pass is {@code pop} until null,
 * {@code pushUsed} per request, then one {@code finishBatch}, which publishes the used entries
 * and answers "notify the driver?" once per pass, honouring VIRTIO_F_EVENT_IDX (used_event,
 * §2.7.10; descriptor events, §2.8.10) and VIRTQ_AVAIL_F_NO_INTERRUPT / RING_EVENT_FLAGS_DISABLE.
 * When the ring runs dry with EVENT_IDX, {@code pop} publishes avail_event (or a device
 * descriptor event) so the driver kicks again only for new buffers.
 */
package dev.flotilla.vmm.devices.virtio.queue;
