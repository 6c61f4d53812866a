package dev.flotilla.images;

import dev.flotilla.images.oci.ConfigBlob;
import dev.flotilla.images.oci.Descriptor;
import dev.flotilla.images.oci.ImageManifest;
import dev.flotilla.images.oci.MediaTypes;
import dev.flotilla.images.oci.OciJson;
import dev.flotilla.images.oci.Platform;
import dev.flotilla.images.registry.RegistryClient;
import dev.flotilla.images.rootfs.ErofsBuilder;
import dev.flotilla.images.store.AtomicFiles;
import dev.flotilla.images.store.BlobStore;
import dev.flotilla.images.store.RefStore;
import dev.flotilla.images.store.StoreLocks;
import dev.flotilla.images.store.VerifyingInputStream;
import dev.flotilla.images.unpack.LayerUnpacker;
import io.airlift.compress.zstd.ZstdInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.zip.GZIPInputStream;

/**
 * The node's image store: pulls images from registries into a content-addressed store and turns
 * them into read-only erofs root filesystems for microVMs. Safe to use from many threads, and from
 * several processes on one root. See {@code package-info.java} for the layout on disk and the
 * guarantees.
 */
public final class ImageStore {
    private static final System.Logger LOG = System.getLogger(ImageStore.class.getName());
    /** An index may point at an index; real images nest at most once. */
    private static final int MAX_INDEX_DEPTH = 2;
    private static final String ROOTFS_SUFFIX = ".erofs";

    private final StoreConfig config;
    private final Path root;
    private final Path tmpDir;
    private final Path lockDir;
    private final Path rootfsDir;
    private final BlobStore blobs;
    private final RefStore refs;
    private final StoreLocks locks;
    private final RegistryClient registry;
    private final LayerUnpacker unpacker;
    private final ErofsBuilder erofs;

    private ImageStore(StoreConfig config) throws IOException {
        this.config = config;
        this.root = config.root().toAbsolutePath().normalize();
        this.tmpDir = root.resolve("tmp");
        this.lockDir = root.resolve("locks");
        this.rootfsDir = root.resolve("rootfs");
        for (Path dir : List.of(root.resolve("blobs"), root.resolve("refs"), rootfsDir, tmpDir, lockDir)) {
            Files.createDirectories(dir);
        }
        this.blobs = new BlobStore(root.resolve("blobs"), tmpDir);
        this.refs = new RefStore(root.resolve("refs"), tmpDir);
        this.locks = StoreLocks.forLockDirectory(lockDir.toRealPath());
        this.registry = new RegistryClient(config.plainHttpRegistries(), config.registryMirrors(), config.requestTimeout());
        this.unpacker = new LayerUnpacker(config.unpackPolicy());
        this.erofs = new ErofsBuilder(config.mkfsErofs());
    }

    /** Opens (creating if needed) the store at {@code config.root()}. */
    public static ImageStore open(StoreConfig config) {
        try {
            return new ImageStore(config);
        } catch (IOException e) {
            throw new ImageException("cannot open the image store at " + config.root() + ": " + e.getMessage(), e);
        }
    }

    public Path root() {
        return root;
    }

    /** Pulls anonymously. */
    public Image pull(String reference) {
        return pull(parse(reference), null);
    }

    /**
     * Pulls an image: resolves its tag (or pinned digest) to the linux/amd64 manifest, fetches what
     * is not in the store yet, verifies everything against its digest, then points the reference
     * at it. Concurrent pulls of one reference share one pull; blobs shared with other images are
     * fetched once.
     *
     * @param credentials for the registry, or null for anonymous access
     */
    public Image pull(ImageReference reference, RegistryCredentials credentials) {
        try (StoreLocks.Held ignored = locks.shared()) {
            return locks.once("pull-" + Digest.sha256(reference.toString().getBytes(StandardCharsets.UTF_8)).hex(),
                    () -> pullUnderLock(reference, credentials));
        }
    }

    private Image pullUnderLock(ImageReference reference, RegistryCredentials credentials) throws IOException {
        Digest indexDigest = null;
        Digest manifestDigest;
        byte[] manifestBytes;
        String what = "image " + reference;

        Fetched top = fetchTopManifest(reference, credentials);
        manifestDigest = top.digest();
        manifestBytes = top.body();
        for (int depth = 0; OciJson.isIndex(manifestBytes, top.contentType(), what); depth++) {
            if (depth >= MAX_INDEX_DEPTH) {
                throw new UnsupportedImageException(what + " nests image indexes more than " + MAX_INDEX_DEPTH + " deep");
            }
            indexDigest = indexDigest == null ? manifestDigest : indexDigest;
            Descriptor chosen = selectPlatform(OciJson.parseIndex(manifestBytes, what + " index " + manifestDigest), what);
            manifestBytes = manifestByDigest(reference, chosen, credentials);
            manifestDigest = chosen.digest();
            top = new Fetched(manifestBytes, chosen.mediaType(), manifestDigest);
        }
        ImageManifest manifest = OciJson.parseManifest(manifestBytes, what + " manifest " + manifestDigest);
        Descriptor configDescriptor = manifest.config();
        if (configDescriptor.size() > config.maxConfigBytes()) {
            throw new IntegrityException(what + " has a " + configDescriptor.size() + "-byte configuration, over the limit of "
                    + config.maxConfigBytes());
        }
        fetchBlob(reference, configDescriptor, credentials, "configuration " + configDescriptor.digest() + " of " + what);
        ConfigBlob configBlob = OciJson.parseConfig(
                blobs.readVerified(configDescriptor.digest(), config.maxConfigBytes(), "configuration of " + what),
                what + " configuration " + configDescriptor.digest());
        checkConfig(manifest, configBlob, what);
        fetchLayers(reference, manifest.layers(), credentials, what);

        Instant now = Instant.now();
        refs.put(new RefStore.Ref(reference.toString(), manifestDigest.toString(),
                indexDigest == null ? null : indexDigest.toString(), now.toString()));
        LOG.log(System.Logger.Level.INFO, "pulled {0} ({1}, {2} layers)", reference, manifestDigest.shortForm(), manifest.layers().size());
        return new Image(reference, manifestDigest, indexDigest, configDescriptor.digest(), manifest.layers(), configBlob.diffIds(),
                configBlob.config(), now);
    }

    private record Fetched(byte[] body, String contentType, Digest digest) {
    }

    /** The manifest or index a reference names: from the store when pinned by a digest we have. */
    private Fetched fetchTopManifest(ImageReference reference, RegistryCredentials credentials) throws IOException {
        Digest pinned = reference.digest();
        String what = "manifest of " + reference;
        if (pinned != null && blobs.has(pinned)) {
            return new Fetched(blobs.readVerified(pinned, config.maxManifestBytes(), what), null, pinned);
        }
        RegistryClient.FetchedManifest fetched = registry.manifest(reference, reference.manifestReference(), credentials, config.maxManifestBytes());
        Digest digest;
        if (pinned != null) {
            digest = pinned;
        } else if (fetched.headerDigest() != null) {
            digest = fetched.headerDigest();
        } else {
            digest = Digest.sha256(fetched.body());
        }
        // put() hashes the body and refuses it unless it matches: a registry (or proxy) serving
        // other bytes than the digest it names is caught here.
        blobs.put(digest, fetched.body(), what);
        return new Fetched(fetched.body(), fetched.contentType(), digest);
    }

    private byte[] manifestByDigest(ImageReference reference, Descriptor descriptor, RegistryCredentials credentials) throws IOException {
        String what = "manifest " + descriptor.digest() + " of " + reference;
        if (descriptor.size() > config.maxManifestBytes()) {
            throw new IntegrityException(what + " is " + descriptor.size() + " bytes, over the limit of " + config.maxManifestBytes());
        }
        if (!blobs.has(descriptor.digest())) {
            RegistryClient.FetchedManifest fetched = registry.manifest(reference, descriptor.digest().toString(), credentials,
                    config.maxManifestBytes());
            if (fetched.body().length != descriptor.size()) {
                throw new IntegrityException(what + " is " + fetched.body().length + " bytes, but its index says " + descriptor.size());
            }
            blobs.put(descriptor.digest(), fetched.body(), what);
        }
        return blobs.readVerified(descriptor.digest(), config.maxManifestBytes(), what);
    }

    private static Descriptor selectPlatform(List<Descriptor> entries, String what) {
        for (Descriptor entry : entries) {
            if (Platform.LINUX_AMD64.accepts(entry.platform())
                    && (MediaTypes.MANIFESTS.contains(entry.mediaType()) || MediaTypes.INDEXES.contains(entry.mediaType()))) {
                return entry;
            }
        }
        List<String> available = entries.stream().map(e -> String.valueOf(e.platform())).distinct().toList();
        throw new UnsupportedImageException(what + " has no " + Platform.LINUX_AMD64 + " manifest (it has: " + available + ")");
    }

    private static void checkConfig(ImageManifest manifest, ConfigBlob configBlob, String what) {
        if (configBlob.diffIds().size() != manifest.layers().size()) {
            throw new IntegrityException(what + " lists " + manifest.layers().size() + " layers but its configuration has "
                    + configBlob.diffIds().size() + " diff_ids");
        }
        if ((!configBlob.os().isEmpty() && !configBlob.os().equals(Platform.LINUX_AMD64.os()))
                || (!configBlob.architecture().isEmpty() && !configBlob.architecture().equals(Platform.LINUX_AMD64.architecture()))) {
            throw new UnsupportedImageException(what + " is built for " + configBlob.os() + "/" + configBlob.architecture()
                    + "; microVM guests run " + Platform.LINUX_AMD64);
        }
    }

    private void fetchLayers(ImageReference reference, List<Descriptor> layers, RegistryCredentials credentials, String what) throws IOException {
        Semaphore slots = new Semaphore(config.maxParallelDownloads());
        List<Future<?>> downloads = new ArrayList<>();
        try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < layers.size(); i++) {
                Descriptor layer = layers.get(i);
                if (layer.size() > config.maxLayerBytes()) {
                    throw new IntegrityException(what + " layer " + i + " (" + layer.digest() + ") is " + layer.size()
                            + " bytes, over the limit of " + config.maxLayerBytes());
                }
                String layerWhat = "layer " + i + " (" + layer.digest() + ") of " + what;
                downloads.add(executor.submit(() -> {
                    slots.acquire();
                    try {
                        fetchBlob(reference, layer, credentials, layerWhat);
                    } finally {
                        slots.release();
                    }
                    return null;
                }));
            }
            RuntimeException first = null;
            for (Future<?> download : downloads) {
                try {
                    download.get();
                } catch (ExecutionException e) {
                    if (first == null) {
                        first = e.getCause() instanceof RuntimeException runtime ? runtime
                                : new ImageException(what + ": " + e.getCause().getMessage(), e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ImageException("interrupted while pulling " + what, e);
                }
            }
            if (first != null) {
                throw first;
            }
        }
    }

    /** Makes sure a blob is in the store, downloading and verifying it once across threads and processes. */
    private void fetchBlob(ImageReference reference, Descriptor descriptor, RegistryCredentials credentials, String what) {
        if (blobs.has(descriptor.digest())) {
            return;
        }
        locks.once("blob-" + descriptor.digest().hex(), () -> {
            if (blobs.has(descriptor.digest())) {
                return null;
            }
            RegistryClient.BlobDownload download = registry.blob(reference, descriptor.digest(), credentials);
            try (InputStream body = download.body()) {
                if (download.contentLength() >= 0 && download.contentLength() != descriptor.size()) {
                    throw new IntegrityException(what + " is served as " + download.contentLength() + " bytes, but the manifest says "
                            + descriptor.size());
                }
                blobs.ingest(descriptor.digest(), descriptor.size(), body, what);
            } catch (IOException e) {
                throw new RegistryException("downloading " + what + " failed: " + e.getMessage(), e);
            }
            return null;
        });
    }

    /** The image a reference names in the store, if it was pulled. */
    public Optional<Image> find(ImageReference reference) {
        try {
            Optional<RefStore.Ref> ref = refs.get(reference);
            return ref.isEmpty() ? Optional.empty() : Optional.of(load(ref.get()));
        } catch (IOException e) {
            throw new ImageException("cannot read " + reference + " from the image store: " + e.getMessage(), e);
        }
    }

    /** Like {@link #find} but an image that is not in the store is an {@link ImageNotFoundException}. */
    public Image get(ImageReference reference) {
        return find(reference).orElseThrow(() -> new ImageNotFoundException("image " + reference + " is not in the local store; pull it first"));
    }

    /** All pulled images, by reference. Entries that cannot be read are logged and left out. */
    public List<Image> list() {
        List<Image> images = new ArrayList<>();
        try {
            for (RefStore.Ref ref : refs.list()) {
                try {
                    images.add(load(ref));
                } catch (ImageException | IOException | IllegalArgumentException e) {
                    LOG.log(System.Logger.Level.WARNING, "skipping image {0}: {1}", ref.reference(), e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new ImageException("cannot list the image store at " + root + ": " + e.getMessage(), e);
        }
        return images;
    }

    /** Forgets a reference; its blobs stay until {@link #gc()}. Returns false when it was not there. */
    public boolean remove(ImageReference reference) {
        try {
            return refs.remove(reference);
        } catch (IOException e) {
            throw new ImageException("cannot remove " + reference + " from the image store: " + e.getMessage(), e);
        }
    }

    /** Forgets every reference to the image with this manifest or config digest (CRI removes by image ID). */
    public int removeImage(Digest manifestOrConfigDigest) {
        int removed = 0;
        for (Image image : list()) {
            if (image.manifestDigest().equals(manifestOrConfigDigest) || image.configDigest().equals(manifestOrConfigDigest)) {
                if (remove(image.reference())) {
                    removed++;
                }
            }
        }
        return removed;
    }

    private Image load(RefStore.Ref ref) throws IOException {
        ImageReference reference = ref.imageReference();
        String what = "image " + reference;
        Digest manifestDigest = ref.manifest();
        if (!blobs.has(manifestDigest)) {
            throw new ImageException(what + " points at manifest " + manifestDigest + ", which is not in the store; pull it again");
        }
        ImageManifest manifest = OciJson.parseManifest(blobs.readVerified(manifestDigest, config.maxManifestBytes(), "manifest of " + what),
                what + " manifest " + manifestDigest);
        ConfigBlob configBlob = OciJson.parseConfig(
                blobs.readVerified(manifest.config().digest(), config.maxConfigBytes(), "configuration of " + what),
                what + " configuration");
        return new Image(reference, manifestDigest, ref.index().orElse(null), manifest.config().digest(), manifest.layers(),
                configBlob.diffIds(), configBlob.config(), Instant.parse(ref.pulledAt()));
    }

    /** Where the root filesystem of an image is (or will be) kept. */
    public Path rootfsPath(Image image) {
        Digest digest = image.manifestDigest();
        return rootfsDir.resolve(digest.algorithm()).resolve(digest.hex() + ROOTFS_SUFFIX);
    }

    /**
     * The read-only erofs root filesystem of a pulled image, built on first use and then cached by
     * manifest digest. Layers are re-verified against their digests and diff_ids while unpacking;
     * the image file appears only when complete.
     */
    public Path rootfs(Image image) {
        Path target = rootfsPath(image);
        if (Files.isRegularFile(target)) {
            return target;
        }
        try (StoreLocks.Held ignored = locks.shared()) {
            return locks.once("rootfs-" + image.manifestDigest().hex(), () -> {
                if (!Files.isRegularFile(target)) {
                    buildRootfs(image, target);
                }
                return target;
            });
        }
    }

    private void buildRootfs(Image image, Path target) throws IOException {
        String what = "image " + image.reference() + " (" + image.manifestDigest().shortForm() + ")";
        Path work = Files.createTempDirectory(tmpDir, "unpack-");
        try {
            Path tree = work.resolve("root");
            Files.createDirectory(tree);
            Files.setAttribute(tree, "unix:mode", 0755, LinkOption.NOFOLLOW_LINKS);
            LayerUnpacker.Budget budget = new LayerUnpacker.Budget();
            for (int i = 0; i < image.layers().size(); i++) {
                applyLayer(image, i, tree, budget, what);
            }
            Path output = work.resolve("rootfs" + ROOTFS_SUFFIX);
            erofs.build(tree, output, uuidOf(image.manifestDigest()), work.resolve("mkfs.log"), what);
            AtomicFiles.sync(output);
            AtomicFiles.publish(output, target);
            LOG.log(System.Logger.Level.INFO, "built root filesystem of {0}: {1} entries, {2} bytes of files",
                    what, budget.entries(), budget.bytes());
        } finally {
            LayerUnpacker.deleteTree(work);
        }
    }

    private void applyLayer(Image image, int index, Path tree, LayerUnpacker.Budget budget, String what) throws IOException {
        Descriptor layer = image.layers().get(index);
        String layerName = "layer " + index + " (" + layer.digest().shortForm() + ") of " + what;
        if (!blobs.has(layer.digest())) {
            throw new ImageException(layerName + " is not in the store; pull the image again");
        }
        MediaTypes.Compression compression = MediaTypes.layerCompression(layer.mediaType());
        try (VerifyingInputStream compressed = blobs.openVerifying(layer.digest(), layer.size(), layerName)) {
            VerifyingInputStream tar = new VerifyingInputStream(decompress(compressed, compression, layerName),
                    image.diffIds().get(index), -1, "uncompressed " + layerName + " (diff_id " + image.diffIds().get(index).shortForm() + ")");
            unpacker.apply(tar, tree, layerName, budget);
            tar.verify();
            try {
                compressed.verify();
            } catch (IntegrityException damaged) {
                blobs.delete(layer.digest());
                throw new IntegrityException(damaged.getMessage() + "; the damaged blob was removed, pull the image again");
            }
        }
    }

    private static InputStream decompress(InputStream in, MediaTypes.Compression compression, String layerName) throws IOException {
        try {
            return switch (compression) {
                case NONE -> in;
                case GZIP -> new GZIPInputStream(in, 64 * 1024);
                case ZSTD -> new ZstdInputStream(in);
            };
        } catch (IOException e) {
            throw new ImageException(layerName + " is not valid " + compression + " data: " + e.getMessage(), e);
        }
    }

    /** A stable filesystem UUID per image: the first 16 bytes of the manifest digest. */
    private static UUID uuidOf(Digest digest) {
        ByteBuffer bytes = ByteBuffer.wrap(java.util.HexFormat.of().parseHex(digest.hex().substring(0, 32)));
        return new UUID(bytes.getLong(), bytes.getLong());
    }

    /**
     * Removes blobs that no reference needs, root filesystems of images no longer referenced, and
     * leftovers of interrupted pulls and unpacks. Waits for running pulls and blocks new ones while
     * it runs.
     */
    public GcResult gc() {
        try (StoreLocks.Held ignored = locks.exclusive()) {
            Set<Digest> live = new HashSet<>();
            Set<String> liveRootfs = new HashSet<>();
            for (RefStore.Ref ref : refs.list()) {
                ref.index().ifPresent(live::add);
                Digest manifestDigest = ref.manifest();
                live.add(manifestDigest);
                liveRootfs.add(manifestDigest.hex() + ROOTFS_SUFFIX);
                try {
                    ImageManifest manifest = OciJson.parseManifest(
                            blobs.readVerified(manifestDigest, config.maxManifestBytes(), "manifest of " + ref.reference()),
                            "manifest of " + ref.reference());
                    live.add(manifest.config().digest());
                    manifest.layers().forEach(layer -> live.add(layer.digest()));
                } catch (ImageException | IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "gc: image {0} is damaged ({1}); its blobs may be collected",
                            ref.reference(), e.getMessage());
                }
            }
            int blobsRemoved = 0;
            long freed = 0;
            for (Digest digest : blobs.list()) {
                if (!live.contains(digest)) {
                    freed += blobs.delete(digest);
                    blobsRemoved++;
                }
            }
            int rootfsRemoved = 0;
            for (Path algorithmDir : children(rootfsDir)) {
                for (Path file : children(algorithmDir)) {
                    if (!liveRootfs.contains(file.getFileName().toString())) {
                        freed += Files.size(file);
                        Files.delete(file);
                        rootfsRemoved++;
                    }
                }
            }
            // Nobody else is inside the store now: whatever is in tmp/ is from an interrupted run,
            // and lock files can go (store.lock, which we hold, stays).
            for (Path leftover : children(tmpDir)) {
                LayerUnpacker.deleteTree(leftover);
            }
            for (Path lock : children(lockDir)) {
                if (!lock.getFileName().toString().equals("store.lock")) {
                    Files.deleteIfExists(lock);
                }
            }
            LOG.log(System.Logger.Level.INFO, "gc removed {0} blobs and {1} root filesystems, {2} bytes", blobsRemoved, rootfsRemoved, freed);
            return new GcResult(blobsRemoved, rootfsRemoved, freed);
        } catch (IOException e) {
            throw new ImageException("garbage collection of the image store at " + root + " failed: " + e.getMessage(), e);
        }
    }

    private static List<Path> children(Path dir) throws IOException {
        List<Path> result = new ArrayList<>();
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
                stream.forEach(result::add);
            }
        }
        return result;
    }

    /** Bytes and inodes the store uses, and room on its filesystem. */
    public FsInfo fsInfo() {
        long[] totals = new long[2];
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
                    totals[1]++;
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                    totals[0] += attributes.size();
                    totals[1]++;
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    // A temporary file removed while we walk is not an error.
                    return FileVisitResult.CONTINUE;
                }
            });
            FileStore store = Files.getFileStore(root);
            return new FsInfo(root, totals[0], totals[1], store.getTotalSpace(), store.getUsableSpace(), Instant.now());
        } catch (IOException e) {
            throw new ImageException("cannot measure the image store at " + root + ": " + e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new ImageException("cannot measure the image store at " + root + ": " + e.getCause().getMessage(), e);
        }
    }

    private static ImageReference parse(String reference) {
        try {
            return ImageReference.parse(reference);
        } catch (IllegalArgumentException e) {
            throw new ImageException(e.getMessage(), e);
        }
    }
}
