package dev.flotilla.node.cri;

import dev.flotilla.containers.ContainerImages;
import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.ImageBackend;
import dev.flotilla.cri.backend.RegistryAuth;
import dev.flotilla.cri.v1.FilesystemIdentifier;
import dev.flotilla.cri.v1.FilesystemUsage;
import dev.flotilla.cri.v1.ImageSpec;
import dev.flotilla.cri.v1.Int64Value;
import dev.flotilla.cri.v1.PodSandboxConfig;
import dev.flotilla.cri.v1.UInt64Value;
import dev.flotilla.images.Digest;
import dev.flotilla.images.FsInfo;
import dev.flotilla.images.Image;
import dev.flotilla.images.ImageException;
import dev.flotilla.images.ImageReference;
import dev.flotilla.images.ImageStore;
import dev.flotilla.images.RegistryCredentials;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * ImageService on the node's image store. The CRI image id is the image's config digest ({@code sha256:...}, as
 * containerd reports it); an image is listed once with every reference pointing at it as a repo tag. PullImage also
 * builds the erofs root filesystem, so the first container of the image does not wait for it.
 */
public final class CriImages implements ImageBackend {
    private static final Pattern ID = Pattern.compile("(sha256:)?[0-9a-f]{64}");

    private final Supplier<ContainerImages> images;

    public CriImages(Supplier<ContainerImages> images) {
        this.images = images;
    }

    private ImageStore store() {
        return images.get().store();
    }

    @Override
    public List<dev.flotilla.cri.v1.Image> listImages() {
        try {
            return byId(store().list()).values().stream().map(CriImages::toCri).toList();
        } catch (ImageException e) {
            throw CriErrors.from(e);
        }
    }

    @Override
    public Optional<dev.flotilla.cri.v1.Image> imageStatus(ImageSpec image) {
        return find(image.getImage()).map(CriImages::toCri);
    }

    /**
     * Every stored image (one per reference) with the config digest of the image {@code text} names: an image id
     * ({@code sha256:<hex>} or bare hex), a reference, or a reference pinned to a manifest digest.
     */
    Optional<List<Image>> find(String text) {
        try {
            List<Image> all = store().list();
            Map<Digest, List<Image>> byId = byId(all);
            if (ID.matcher(text).matches()) {
                Digest digest = new Digest("sha256", text.substring(text.indexOf(':') + 1));
                for (List<Image> same : byId.values()) {
                    Image first = same.getFirst();
                    if (first.configDigest().equals(digest) || first.manifestDigest().equals(digest)) {
                        return Optional.of(same);
                    }
                }
                return Optional.empty();
            }
            ImageReference ref = parse(text);
            Optional<Image> stored = store().find(ref);
            if (stored.isPresent()) {
                return Optional.ofNullable(byId.get(stored.get().configDigest()));
            }
            if (ref.pinnedDigest().isPresent()) {
                // Pulled by tag, asked for by name@digest (the repo digest the kubelet was given).
                for (Image image : all) {
                    if (image.reference().name().equals(ref.name())
                            && image.manifestDigest().equals(ref.pinnedDigest().get())) {
                        return Optional.of(byId.get(image.configDigest()));
                    }
                }
            }
            return Optional.empty();
        } catch (ImageException e) {
            throw CriErrors.from(e);
        }
    }

    @Override
    public String pullImage(ImageSpec image, Optional<RegistryAuth> credentials, PodSandboxConfig sandboxConfig) {
        ImageReference ref = parse(image.getImage());
        RegistryCredentials login = null;
        if (credentials.isPresent()) {
            RegistryAuth auth = credentials.get();
            if (!auth.identityToken().isEmpty() || !auth.registryToken().isEmpty()) {
                throw CriException.invalidArgument("pulling " + ref + ": registry identity and bearer tokens are not "
                        + "supported by Flotilla yet; give the image pull secret a user name and password");
            }
            if (auth.hasPassword()) {
                login = new RegistryCredentials(auth.username(), auth.password());
            }
        }
        try {
            Image pulled = store().pull(ref, login);
            store().rootfs(pulled);
            return pulled.configDigest().toString();
        } catch (ImageException e) {
            throw CriErrors.from(e);
        }
    }

    @Override
    public boolean removeImage(ImageSpec image) {
        Optional<List<Image>> found = find(image.getImage());
        if (found.isEmpty()) {
            return false;
        }
        try {
            // By id or by any of its names, the CRI removes the image: every reference to it goes.
            store().removeImage(found.get().getFirst().configDigest());
            return true;
        } catch (ImageException e) {
            throw CriErrors.from(e);
        }
    }

    @Override
    public List<FilesystemUsage> imageFilesystems() {
        try {
            FsInfo fs = store().fsInfo();
            Instant at = fs.measuredAt();
            return List.of(FilesystemUsage.newBuilder()
                    .setTimestamp(at.getEpochSecond() * 1_000_000_000L + at.getNano())
                    .setFsId(FilesystemIdentifier.newBuilder().setMountpoint(fs.root().toString()))
                    .setUsedBytes(UInt64Value.newBuilder().setValue(fs.usedBytes()))
                    .setInodesUsed(UInt64Value.newBuilder().setValue(fs.inodesUsed()))
                    .build());
        } catch (ImageException e) {
            throw CriErrors.from(e);
        }
    }

    static ImageReference parse(String text) {
        try {
            return ImageReference.parse(text);
        } catch (IllegalArgumentException | ImageException e) {
            throw CriException.invalidArgument("image '" + text + "' is not a valid image reference: " + e.getMessage());
        }
    }

    private static Map<Digest, List<Image>> byId(List<Image> all) {
        Map<Digest, List<Image>> byId = new LinkedHashMap<>();
        for (Image image : all) {
            byId.computeIfAbsent(image.configDigest(), d -> new ArrayList<>()).add(image);
        }
        return byId;
    }

    private static dev.flotilla.cri.v1.Image toCri(List<Image> same) {
        Image first = same.getFirst();
        dev.flotilla.cri.v1.Image.Builder b = dev.flotilla.cri.v1.Image.newBuilder()
                .setId(first.configDigest().toString())
                .setSize(first.size())
                .setSpec(ImageSpec.newBuilder().setImage(first.configDigest().toString()));
        same.stream().filter(i -> i.reference().tag() != null)
                .map(i -> i.reference().name() + ":" + i.reference().tag()).distinct().forEach(b::addRepoTags);
        same.stream().map(i -> i.repoDigest().toString()).distinct().forEach(b::addRepoDigests);
        String user = first.config().user() == null ? "" : first.config().user();
        String uid = user.contains(":") ? user.substring(0, user.indexOf(':')) : user;
        if (uid.isEmpty() || uid.equals("root")) {
            b.setUid(Int64Value.newBuilder().setValue(0));
        } else if (uid.chars().allMatch(Character::isDigit)) {
            b.setUid(Int64Value.newBuilder().setValue(Long.parseLong(uid)));
        } else {
            b.setUsername(uid);
        }
        return b.build();
    }
}
