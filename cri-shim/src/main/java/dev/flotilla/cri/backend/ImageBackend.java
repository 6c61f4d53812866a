package dev.flotilla.cri.backend;

import dev.flotilla.cri.v1.FilesystemUsage;
import dev.flotilla.cri.v1.Image;
import dev.flotilla.cri.v1.ImageSpec;
import dev.flotilla.cri.v1.PodSandboxConfig;

import java.util.List;
import java.util.Optional;

/**
 * The node's image store: implemented by the node-agent with node-agent/images, which applies the node's registry
 * settings (mirrors, plain-HTTP registries; {@code flotilla.node.containers.*}).
 *
 * <p>{@link ImageSpec#getImage()} is non-empty when a method is called. It is a reference ("nginx:1.27",
 * "registry.local:5000/app@sha256:...") or an image id as returned by {@link #pullImage}; an unparsable reference
 * is INVALID_ARGUMENT. {@link Image#getId()} must equal the image ref returned by pullImage for the same image.
 */
public interface ImageBackend {

    /** Every image in the store; the shim applies the kubelet's filter. */
    List<Image> listImages();

    /** The image the spec names, or empty if it is not in the store (not an error). */
    Optional<Image> imageStatus(ImageSpec image);

    /**
     * Pulls (or finds) the image and returns its image ref (the image id). {@code credentials} is empty for
     * anonymous pulls. Unreachable registry: UNAVAILABLE; refused credentials or missing image: NOT_FOUND with the
     * registry's answer in the message.
     */
    String pullImage(ImageSpec image, Optional<RegistryAuth> credentials, PodSandboxConfig sandboxConfig);

    /** Removes the image and all its tags. Returns false if it was not in the store. */
    boolean removeImage(ImageSpec image);

    /** Usage of the filesystem holding the image store. */
    List<FilesystemUsage> imageFilesystems();
}
