package dev.flotilla.images.oci;

import java.util.Set;

/** The media types of the OCI image spec and of Docker's image manifest v2 schema 2. */
public final class MediaTypes {
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    public static final String OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public static final String OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

    public static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public static final String DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public static final String DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
    public static final String DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /** What we ask a registry for, most specific first. */
    public static final String ACCEPT_MANIFESTS = String.join(", ", OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST);

    public static final Set<String> INDEXES = Set.of(OCI_INDEX, DOCKER_LIST);
    public static final Set<String> MANIFESTS = Set.of(OCI_MANIFEST, DOCKER_MANIFEST);
    public static final Set<String> CONFIGS = Set.of(OCI_CONFIG, DOCKER_CONFIG);

    /** How a layer's bytes are compressed. */
    public enum Compression { NONE, GZIP, ZSTD }

    /** The compression of a layer media type; throws IllegalArgumentException for a non-layer type. */
    public static Compression layerCompression(String mediaType) {
        return switch (mediaType) {
            case OCI_LAYER, OCI_LAYER_ND -> Compression.NONE;
            case OCI_LAYER_GZIP, OCI_LAYER_ND_GZIP, DOCKER_LAYER_GZIP, DOCKER_LAYER_FOREIGN_GZIP -> Compression.GZIP;
            case OCI_LAYER_ZSTD, OCI_LAYER_ND_ZSTD -> Compression.ZSTD;
            default -> throw new IllegalArgumentException("'" + mediaType + "' is not a layer media type we unpack");
        };
    }

    private MediaTypes() {
    }
}
