/**
 * virtio-vsock (virtio 1.2 §5.10) with its host end inside the JVM: {@link
 * dev.flotilla.vmm.devices.virtio.vsock.VirtioVsock} is both the device and the {@link
 * dev.flotilla.vmm.devices.virtio.vsock.VsockHost} API; {@link
 * dev.flotilla.vmm.devices.virtio.vsock.VsockUnixBridge} exposes it on a Unix socket.
 *
 * <h2>Threading</h2>
 * <pre>
 *   host threads ── write/read/close ──► VsockConnection (its monitor guards buffers + flags)
 *        │                                   │ requestService: concurrent queue + wakeup hook
 *        ▼                                   ▼
 *   connectAsync ──► newConnections ──► event loop: processQueue(i) under the transport lock
 *                                          tx: parse + act on guest packets
 *                                          rx: one packet per connection per round, round-robin
 * </pre>
 * Only the event-loop pass touches the queues and the connection table. Host threads change a
 * connection under its monitor, enqueue it and call the wakeup hook, which the VM wiring turns
 * into {@code processQueueNotification(RX_QUEUE)} on the loop: {@link
 * dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig} backs it with an eventfd the VM's event
 * loop watches ({@code DeviceEnvironment.queueKick}), so a burst of host writes costs one pass.
 * In a VM the API is {@code MicroVm.vsock()}; closing the VM closes the device, which ends every
 * connection with an error. Host threads block in {@code Object.wait} on the connection; on a
 * ForkJoinPool worker that wait is a managed block, so a pool never starves the task (often the
 * other end's reader) that would wake it. Lock order: transport, then one
 * connection; never the reverse. User code (listen handlers, {@link
 * dev.flotilla.vmm.devices.virtio.vsock.UnboundPortAcceptor}s, ready listeners, future
 * completions) runs on callback threads, never with a lock held.
 *
 * <h2>Connection state machine (host view), keyed by (host port, guest port)</h2>
 * <pre>
 *   host connect ─► CONNECTING ─REQUEST sent; RESPONSE─► ESTABLISHED
 *                      │ RST (refused) / timeout (we send RST) ─► CLOSED
 *   guest REQUEST ─► listener:  ESTABLISHED (RESPONSE queued)
 *                 ─► acceptor:  ACCEPTING ─accept─► ESTABLISHED / ─refuse─► RST, CLOSED
 *                 ─► neither, or MAX_CONNECTIONS reached: RST, no state
 *   ESTABLISHED: RW both ways within credit; SHUTDOWN flags are half-closes:
 *     guest SEND  → host reads EOF after the buffer;  guest RCV → host writes fail
 *     host shutdownOutput → SHUTDOWN SEND after queued data;  host close → SHUTDOWN SEND|RCV
 *   → CLOSED on: guest RST; our RST (protocol violation, credit violation, abort, close timeout);
 *     host close after the guest shut down both ways (we send RST, as Linux does).
 * </pre>
 *
 * <h2>Flow control (§5.10.6.3)</h2>
 * Each connection has two bounded buffers. Guest → host: the receive buffer's capacity is the
 * {@code buf_alloc} we advertise and {@code fwd_cnt} counts what host readers consumed; a CREDIT_UPDATE
 * goes out once the guest's view of our free space falls below half. A guest that sends beyond it
 * is reset (CREDIT_VIOLATION), so host memory per connection never exceeds the buffer. Host →
 * guest: writers block while the send buffer is full; the loop sends no more than the guest's
 * {@code buf_alloc - (tx_cnt - fwd_cnt)}, and one CREDIT_REQUEST per stall.
 *
 * <h2>Hostile guest</h2>
 * Every header is checked by {@link dev.flotilla.vmm.devices.virtio.vsock.VsockHeader#validateFromGuest}
 * before use; each refusal is a {@link dev.flotilla.vmm.devices.virtio.vsock.VsockRejection},
 * counted in {@link dev.flotilla.vmm.devices.virtio.vsock.VsockMetrics}, logged through the rate
 * limiter, and answered with RST when the addresses are the guest's own. Spoofed CIDs are dropped
 * silently. Pending RST replies, connections and per-packet payload are all capped by constants.
 */
package dev.flotilla.vmm.devices.virtio.vsock;
