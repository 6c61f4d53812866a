/**
 * Containers from OCI images in Linux microVMs, as plain Java that the node agent, the e2e suites and the
 * container-start benchmark share.
 *
 * <p>The path of one sandbox: {@link ContainerImages#prepare} pulls the image (or finds it in the store) and
 * turns it into an erofs root filesystem; {@link GuestWiring} adds that file as a read-only virtio-blk disk and
 * a vsock device to the VM's config and asks flotilla-init to supervise the guest agent
 * ({@code flotilla.exit=agent}); once the VM runs, {@link ContainerSandbox#connect} reaches the agent over vsock
 * and configures the sandbox (hostname, the tap's address); {@link ContainerSandbox#run} creates and starts a
 * container whose process comes from the image config, overridden by the request ({@link ProcessTemplate}).
 * Output is kept per container in a bounded {@link ContainerLog} that followers can subscribe to; exits and the
 * agent's death are reported through {@link ContainerSandbox.Events}.
 */
package dev.flotilla.containers;
