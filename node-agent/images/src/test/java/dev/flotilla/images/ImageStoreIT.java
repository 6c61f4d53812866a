package dev.flotilla.images;

import dev.flotilla.images.testsupport.LocalRegistry;
import dev.flotilla.images.testsupport.OciLayout;
import dev.flotilla.images.testsupport.PullMain;
import dev.flotilla.images.testsupport.RegistryProxy;
import dev.flotilla.images.testsupport.TarBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Arrays;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The image store against a real registry: Debian's docker-registry on loopback, holding images
 * this test builds from busybox-static and pushes with skopeo. Needs root (unpacking keeps file
 * owners; the root filesystems are checked by loop-mounting them), docker-registry, skopeo and
 * erofs-utils.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageStoreIT {
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    /** cap_net_raw+ep (VFS_CAP_REVISION_2, 20 bytes). */
    private static final byte[] CAP_NET_RAW = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    private static final byte[] HIGH_BYTES = {(byte) 0x80, (byte) 0xff, 0x00, (byte) 0xc3, 0x28, (byte) 0xfe};

    private Path shared;
    private LocalRegistry registry;
    private OciLayout.Layer base;
    private OciLayout.Layer app;
    private OciLayout.Layer other;
    private OciLayout.Layer corrupt;
    private OciLayout.Layer missing;
    private OciLayout.Manifest appAmd64;

    @BeforeAll
    void startRegistryWithTestImages(@TempDir Path sharedDir) throws Exception {
        shared = sharedDir;
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/docker-registry")) && Files.isExecutable(Path.of("/usr/bin/skopeo")),
                "needs Debian's docker-registry and skopeo");
        assumeTrue("0".equals(String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))), "needs root");
        registry = LocalRegistry.start(Files.createDirectories(shared.resolve("registry")));

        OciLayout layout = new OciLayout(shared.resolve("layout"));
        base = layout.layer(new TarBuilder()
                .dir("bin", 0755).dir("etc", 0755).dir("tmp", 01777).dir("srv", 0755)
                .file("bin/busybox", Files.readAllBytes(BUSYBOX), 0755, 0, 0)
                .symlink("bin/sh", "busybox").hardlink("bin/ls", "bin/busybox")
                .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv:/bin/sh\n")
                .file("etc/old.conf", "obsolete")
                .file("etc/secret", "s3cret".getBytes(), 04750, 1000, 1000)
                .file("var/cache/a", "a").file("var/cache/b", "b")
                .build());
        app = layout.layer(new TarBuilder()
                .whiteout("etc/old.conf")
                .dir("var/cache", 0755).opaque("var/cache").file("var/cache/c", "c")
                .file("etc/motd", "hello from the app layer\n")
                .pax(Map.of("SCHILY.xattr.security.capability", CAP_NET_RAW, "SCHILY.xattr.user.flotilla", HIGH_BYTES))
                .file("bin/ping", "not really ping".getBytes(), 0755, 0, 0)
                .build());
        other = layout.layer(new TarBuilder().file("etc/other", "other image").build());
        corrupt = layout.layer(new TarBuilder().file("etc/corrupt", "x".repeat(5000)).build());
        missing = layout.layer(new TarBuilder().file("etc/missing", "gone").build());
        OciLayout.Layer zstd = layout.zstdLayer(new TarBuilder().file("etc/zstd", "from a zstd layer").build());
        OciLayout.Layer evil = layout.layer(new TarBuilder().symlink("hostetc", "/etc").file("hostetc/flotilla-pwned", "pwned").build());

        appAmd64 = layout.image("amd64", OciLayout.list(base, app), List.of("echo hello"), Map.of("role", "app"));
        layout.tag("app", appAmd64);
        layout.tag("other", layout.image("amd64", OciLayout.list(base, other), List.of("cat /etc/other"), Map.of()));
        layout.tagIndex("multi", List.of(layout.image("arm64", OciLayout.list(base), List.of("true"), Map.of()), appAmd64));
        layout.tag("arm", layout.image("arm64", OciLayout.list(base), List.of("true"), Map.of()));
        layout.tag("corrupt", layout.image("amd64", OciLayout.list(base, corrupt), List.of("true"), Map.of()));
        layout.tag("missing", layout.image("amd64", OciLayout.list(base, missing), List.of("true"), Map.of()));
        layout.tag("zstd", layout.image("amd64", OciLayout.list(base, zstd), List.of("true"), Map.of()));
        layout.tag("evil", layout.image("amd64", OciLayout.list(base, evil), List.of("true"), Map.of()));
        layout.write();
        for (String tag : List.of("app", "other", "multi", "corrupt", "missing", "evil", "zstd")) {
            registry.push(layout.dir(), tag, "test/" + tag + ":1");
        }
        // Damage the registry's copy of one blob (same length, other bytes) and delete another's.
        Path corruptData = registry.blobData(corrupt.digest().hex());
        byte[] bytes = Files.readAllBytes(corruptData);
        bytes[bytes.length / 2] ^= 0x55;
        Files.write(corruptData, bytes);
        Files.delete(registry.blobData(missing.digest().hex()));
    }

    @AfterAll
    void stopRegistry() throws InterruptedException {
        if (registry != null) {
            registry.close();
        }
    }

    private ImageStore store(Path root, String... plainHttp) {
        Set<String> hosts = plainHttp.length == 0 ? Set.of(registry.address()) : Set.of(plainHttp);
        return ImageStore.open(StoreConfig.defaults(root).withPlainHttpRegistries(hosts));
    }

    private ImageReference ref(String tagged) {
        return ImageReference.parse(registry.address() + "/test/" + tagged);
    }

    @Test
    void pull_thenRootfs_buildsErofsWithLayersApplied(@TempDir Path root, @TempDir Path mount) throws Exception {
        ImageStore store = store(root);

        Image image = store.pull(ref("app:1"), null);
        Path rootfs = store.rootfs(image);

        assertEquals(appAmd64.digest(), image.manifestDigest());
        assertTrue(rootfs.toString().endsWith(image.manifestDigest().hex() + ".erofs"));
        LocalRegistry.run(List.of("fsck.erofs", rootfs.toString()));
        LocalRegistry.run(List.of("mount", "-t", "erofs", "-o", "loop,ro", rootfs.toString(), mount.toString()));
        try {
            assertArrayEquals(Files.readAllBytes(BUSYBOX), Files.readAllBytes(mount.resolve("bin/busybox")));
            assertEquals("busybox", Files.readSymbolicLink(mount.resolve("bin/sh")).toString());
            assertEquals(2, Files.getAttribute(mount.resolve("bin/ls"), "unix:nlink"));
            assertEquals("hello from the app layer\n", Files.readString(mount.resolve("etc/motd")));
            assertFalse(Files.exists(mount.resolve("etc/old.conf")), "whiteout applied");
            assertFalse(Files.exists(mount.resolve("var/cache/a")), "opaque directory applied");
            assertEquals("c", Files.readString(mount.resolve("var/cache/c")));
            assertEquals(1000, Files.getAttribute(mount.resolve("etc/secret"), "unix:uid"));
            assertEquals(04750, (Integer) Files.getAttribute(mount.resolve("etc/secret"), "unix:mode") & 07777);
            assertEquals(01777, (Integer) Files.getAttribute(mount.resolve("tmp"), "unix:mode") & 07777);
            assertEquals(TarBuilder.MTIME, Files.getLastModifiedTime(mount.resolve("etc/passwd"), LinkOption.NOFOLLOW_LINKS).toInstant());
            // The file capability and a binary user.* xattr survive unpacking and mkfs.erofs.
            assertEquals(mount.resolve("bin/ping") + " cap_net_raw=ep", LocalRegistry.output(List.of("/usr/sbin/getcap", mount.resolve("bin/ping").toString())).strip());
            UserDefinedFileAttributeView user = Files.getFileAttributeView(mount.resolve("bin/ping"), UserDefinedFileAttributeView.class);
            ByteBuffer value = ByteBuffer.allocate(64);
            user.read("flotilla", value);
            assertArrayEquals(HIGH_BYTES, Arrays.copyOf(value.array(), value.position()));
        } finally {
            LocalRegistry.run(List.of("umount", mount.toString()));
        }
    }

    @Test
    void rootfs_zstdLayer_isUnpacked(@TempDir Path root, @TempDir Path extracted) throws Exception {
        ImageStore store = store(root);
        Path rootfs = store.rootfs(store.pull(ref("zstd:1"), null));

        LocalRegistry.run(List.of("fsck.erofs", "--extract=" + extracted.resolve("x"), rootfs.toString()));
        assertEquals("from a zstd layer", Files.readString(extracted.resolve("x/etc/zstd")));
    }

    @Test
    void pull_image_exposesItsConfig(@TempDir Path root) {
        Image image = store(root).pull(ref("app:1"), null);

        assertEquals(List.of("/bin/sh", "-c"), image.config().entrypoint());
        assertEquals(List.of("echo hello"), image.config().cmd());
        assertEquals(List.of("PATH=/bin:/usr/bin", "GREETING=hello"), image.config().env());
        assertEquals("/srv", image.config().workingDir());
        assertEquals("1000:1000", image.config().user());
        assertEquals(List.of("8080/tcp"), image.config().exposedPorts());
        assertEquals(Map.of("role", "app"), image.config().labels());
    }

    @Test
    void pull_imageIndex_selectsLinuxAmd64(@TempDir Path root) {
        Image image = store(root).pull(ref("multi:1"), null);

        assertEquals(appAmd64.digest(), image.manifestDigest());
        assertNotNull(image.indexDigest());
    }

    @Test
    void pull_byDigest_pullsThatManifest(@TempDir Path root) {
        Image image = store(root).pull(ImageReference.parse(registry.address() + "/test/app@" + appAmd64.digest()), null);

        assertEquals(appAmd64.digest(), image.manifestDigest());
    }

    @Test
    void pull_twoImagesSharingBaseLayer_fetchesAndStoresItOnce(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            ImageStore store = store(root, proxy.address());
            ImageReference appRef = ImageReference.parse(proxy.address() + "/test/app:1");
            ImageReference otherRef = ImageReference.parse(proxy.address() + "/test/other:1");

            store.pull(appRef, null);
            store.pull(otherRef, null);

            assertEquals(1, proxy.blobFetches(base.digest().toString()));
            assertEquals(1, proxy.blobFetches(other.digest().toString()));
            assertTrue(Files.isRegularFile(root.resolve("blobs/sha256").resolve(base.digest().hex())));
            assertEquals(2, store.list().size());
        }
    }

    @Test
    void pull_unknownImage_throwsImageNotFound(@TempDir Path root) {
        ImageStore store = store(root);

        ImageNotFoundException notFound = assertThrows(ImageNotFoundException.class, () -> store.pull(ref("nonexistent:1"), null));
        assertTrue(notFound.getMessage().contains("test/nonexistent:1 was not found in registry " + registry.address()), notFound.getMessage());
        assertTrue(store.list().isEmpty());
    }

    @Test
    void pull_unknownTag_throwsImageNotFound(@TempDir Path root) {
        assertThrows(ImageNotFoundException.class, () -> store(root).pull(ref("app:nope"), null));
    }

    @Test
    void pull_armOnlyImage_isRefusedAsUnsupported(@TempDir Path root) throws Exception {
        // "arm" was written to the layout but not pushed; push it now under its own name.
        registry.push(shared.resolve("layout"), "arm", "test/arm:1");
        ImageStore store = store(root);

        UnsupportedImageException refused = assertThrows(UnsupportedImageException.class, () -> store.pull(ref("arm:1"), null));
        assertTrue(refused.getMessage().contains("built for linux/arm64"), refused.getMessage());
    }

    @Test
    void pull_blobMissingFromRegistry_failsAndStoresNoRef(@TempDir Path root) throws IOException {
        ImageStore store = store(root);

        RegistryException failure = assertThrows(RegistryException.class, () -> store.pull(ref("missing:1"), null));
        assertEquals(404, failure.status());
        assertTrue(failure.getMessage().contains(missing.digest().toString()), failure.getMessage());
        assertTrue(store.list().isEmpty());
        assertFalse(Files.exists(root.resolve("blobs/sha256").resolve(missing.digest().hex())));
        assertEmpty(root.resolve("tmp"));
    }

    @Test
    void pull_blobNotMatchingDigest_failsAndKeepsNothingOfIt(@TempDir Path root) throws IOException {
        ImageStore store = store(root);

        IntegrityException failure = assertThrows(IntegrityException.class, () -> store.pull(ref("corrupt:1"), null));
        assertTrue(failure.getMessage().contains("does not match its digest: expected " + corrupt.digest()), failure.getMessage());
        assertTrue(store.list().isEmpty());
        assertFalse(Files.exists(root.resolve("blobs/sha256").resolve(corrupt.digest().hex())));
        assertEmpty(root.resolve("tmp"));
    }

    @Test
    void pull_withTokenAuthAndCredentials_succeeds(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.requireToken("alice", "wonderland");
            ImageStore store = store(root, proxy.address());

            Image image = store.pull(ImageReference.parse(proxy.address() + "/test/app:1"), new RegistryCredentials("alice", "wonderland"));

            assertEquals(appAmd64.digest(), image.manifestDigest());
            assertEquals(1, proxy.tokenRequests(), "one token, cached for the whole pull");
        }
    }

    @Test
    void pull_throughMirror_neverAsksTheRegistry(@TempDir Path root) throws Exception {
        try (RegistryProxy mirror = new RegistryProxy(registry.address())) {
            // The image names a registry nobody listens on: only the mirror can have served it.
            String unreachable = "127.0.0.1:" + closedPort();
            ImageStore store = ImageStore.open(StoreConfig.defaults(root).withPlainHttpRegistries(Set.of(unreachable))
                    .withRegistryMirrors(Map.of(unreachable, List.of(URI.create("http://" + mirror.address() + "/")))));

            Image image = store.pull(ImageReference.parse(unreachable + "/test/app:1"), null);

            assertEquals(appAmd64.digest(), image.manifestDigest());
            assertEquals(1, mirror.blobFetches(base.digest().toString()));
            assertEquals(1, mirror.blobFetches(app.digest().toString()));
        }
    }

    @Test
    void pull_mirrorsDownRefusingOrLackingABlob_areSkippedForTheRegistry(@TempDir Path root) throws Exception {
        try (RegistryProxy origin = new RegistryProxy(registry.address());
             RegistryProxy locked = new RegistryProxy(registry.address());
             RegistryProxy partial = new RegistryProxy(registry.address())) {
            // The pull's credentials would open the locked mirror: it must never see them (they are the registry's).
            locked.requireToken("alice", "wonderland");
            partial.hideBlob(app.digest().hex());
            List<URI> mirrors = List.of(URI.create("http://127.0.0.1:" + closedPort()),
                    URI.create("http://" + locked.address()), URI.create("http://" + partial.address()));
            ImageStore store = ImageStore.open(StoreConfig.defaults(root).withPlainHttpRegistries(Set.of(origin.address()))
                    .withRegistryMirrors(Map.of(origin.address(), mirrors)));

            Image image = store.pull(ImageReference.parse(origin.address() + "/test/app:1"),
                    new RegistryCredentials("alice", "wonderland"));

            assertEquals(appAmd64.digest(), image.manifestDigest());
            assertEquals(0, locked.blobsServed(base.digest().toString()) + locked.blobsServed(app.digest().toString()),
                    "the locked mirror served nothing: the registry's credentials were not sent to it");
            assertEquals(1, partial.blobsServed(base.digest().toString()), "the base layer came from the mirror");
            assertEquals(0, partial.blobsServed(app.digest().toString()));
            assertEquals(0, origin.blobFetches(base.digest().toString()));
            assertEquals(1, origin.blobsServed(app.digest().toString()), "the layer the mirror lacks came from the registry");
            assertTrue(Files.isRegularFile(root.resolve("blobs/sha256").resolve(app.digest().hex())));
        }
    }

    @Test
    void pull_unknownImage_withMirrors_namesTheMirrorsPassedOver(@TempDir Path root) throws Exception {
        try (RegistryProxy mirror = new RegistryProxy(registry.address())) {
            ImageStore store = ImageStore.open(StoreConfig.defaults(root).withPlainHttpRegistries(Set.of(registry.address()))
                    .withRegistryMirrors(Map.of(registry.address(), List.of(URI.create("http://" + mirror.address())))));

            ImageNotFoundException notFound = assertThrows(ImageNotFoundException.class,
                    () -> store.pull(ref("nonexistent:1"), null));
            assertTrue(notFound.getMessage().contains("was not found in registry " + registry.address()), notFound.getMessage());
            assertTrue(notFound.getMessage().contains("mirrors passed over: http://" + mirror.address() + " answered HTTP 404"),
                    notFound.getMessage());
            assertTrue(store.list().isEmpty());
        }
    }

    @Test
    void storeConfig_mirrorThatIsNotABaseUrl_isRefused() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> StoreConfig.defaults(Path.of("x"))
                .withRegistryMirrors(Map.of("docker.io", List.of(URI.create("ftp://mirror.example/")))));
        assertTrue(refused.getMessage().contains("mirror 'ftp://mirror.example/' of registry docker.io"), refused.getMessage());
    }

    private static int closedPort() throws IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void pull_withTokenAuthAnonymously_isRefusedClearly(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.requireToken("alice", "wonderland");
            ImageStore store = store(root, proxy.address());

            RegistryException refused = assertThrows(RegistryException.class,
                    () -> store.pull(ImageReference.parse(proxy.address() + "/test/app:1"), null));
            assertTrue(refused.getMessage().contains("refused an anonymous token"), refused.getMessage());
        }
    }

    @Test
    void pull_withTokenAuthWrongPassword_isRefusedClearly(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.requireToken("alice", "wonderland");
            ImageStore store = store(root, proxy.address());

            RegistryException refused = assertThrows(RegistryException.class,
                    () -> store.pull(ImageReference.parse(proxy.address() + "/test/app:1"), new RegistryCredentials("alice", "guess")));
            assertTrue(refused.getMessage().contains("refused a token for 'alice'"), refused.getMessage());
        }
    }

    @Test
    void pull_interruptedMidBlob_leavesStoreConsistentAndRetrySucceeds(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.cutBlob(base.digest().hex());
            ImageStore store = store(root, proxy.address(), registry.address());

            assertThrows(RegistryException.class, () -> store.pull(ImageReference.parse(proxy.address() + "/test/app:1"), null));
            assertTrue(store.list().isEmpty(), "no ref after a failed pull");
            assertFalse(Files.exists(root.resolve("blobs/sha256").resolve(base.digest().hex())), "no half blob under its digest");
            assertEmpty(root.resolve("tmp"));

            Image image = store.pull(ref("app:1"), null);
            assertTrue(Files.isRegularFile(store.rootfs(image)));
        }
    }

    @Test
    void pull_registryStallsMidBlob_failsWithinTimeoutAndStoresNothing(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.stallBlob(base.digest().hex());
            ImageStore store = ImageStore.open(StoreConfig.defaults(root).withPlainHttpRegistries(Set.of(proxy.address()))
                    .withRequestTimeout(java.time.Duration.ofSeconds(2)));
            long start = System.nanoTime();

            RegistryException failure = assertThrows(RegistryException.class,
                    () -> store.pull(ImageReference.parse(proxy.address() + "/test/app:1"), null));

            assertTrue(failure.getMessage().contains("stalled: no data for 2 s"), failure.getMessage());
            assertTrue(System.nanoTime() - start < 20_000_000_000L, "gave up well before the proxy's 30 s");
            assertTrue(store.list().isEmpty());
            assertFalse(Files.exists(root.resolve("blobs/sha256").resolve(base.digest().hex())));
            assertEmpty(root.resolve("tmp"));
        }
    }

    @Test
    void rootfs_layerEscapingThroughAbsoluteSymlink_isRefusedAndNothingPublished(@TempDir Path root) throws IOException {
        ImageStore store = store(root);
        Image image = store.pull(ref("evil:1"), null);

        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class, () -> store.rootfs(image));
        assertTrue(refused.getMessage().contains("absolute symlink 'hostetc' -> '/etc'"), refused.getMessage());
        assertFalse(Files.exists(Path.of("/etc/flotilla-pwned")));
        assertFalse(Files.exists(store.rootfsPath(image)));
        assertEmpty(root.resolve("tmp"));
    }

    @Test
    void rootfs_secondCall_reusesCachedImage(@TempDir Path root) throws IOException {
        ImageStore store = store(root);
        Image image = store.pull(ref("app:1"), null);
        Path first = store.rootfs(image);
        Object inode = Files.getAttribute(first, "unix:ino");

        Path second = store.rootfs(store.pull(ref("multi:1"), null));

        assertEquals(first, second);
        assertEquals(inode, Files.getAttribute(second, "unix:ino"));
    }

    @Test
    void rootfs_layerDamagedInStore_isDetectedAndRemoved(@TempDir Path root) throws IOException {
        ImageStore store = store(root);
        Image image = store.pull(ref("other:1"), null);
        Path blob = root.resolve("blobs/sha256").resolve(other.digest().hex());
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length - 10] ^= 0x01;
        Files.write(blob, bytes);

        assertThrows(ImageException.class, () -> store.rootfs(image));
        assertFalse(Files.exists(blob), "damaged blob removed so a new pull fetches it");
        assertFalse(Files.exists(store.rootfsPath(image)));
    }

    @Test
    void gc_afterRemove_deletesOnlyUnreferencedBlobsAndRootfs(@TempDir Path root) throws IOException {
        ImageStore store = store(root);
        Image appImage = store.pull(ref("app:1"), null);
        Image otherImage = store.pull(ref("other:1"), null);
        Path appRootfs = store.rootfs(appImage);
        Path otherRootfs = store.rootfs(otherImage);
        Files.writeString(root.resolve("tmp/blob-leftover.part"), "from a killed pull");

        assertTrue(store.remove(appImage.reference()));
        GcResult result = store.gc();

        Path blobs = root.resolve("blobs/sha256");
        assertFalse(Files.exists(blobs.resolve(app.digest().hex())));
        assertFalse(Files.exists(blobs.resolve(appImage.manifestDigest().hex())));
        assertFalse(Files.exists(blobs.resolve(appImage.configDigest().hex())));
        assertTrue(Files.exists(blobs.resolve(base.digest().hex())), "shared base layer kept");
        assertTrue(Files.exists(blobs.resolve(other.digest().hex())));
        assertTrue(Files.exists(blobs.resolve(otherImage.manifestDigest().hex())));
        assertFalse(Files.exists(appRootfs));
        assertTrue(Files.exists(otherRootfs));
        assertEmpty(root.resolve("tmp"));
        assertEquals(3, result.blobsRemoved());
        assertEquals(1, result.rootfsRemoved());
        assertEquals(List.of(otherImage.reference()), store.list().stream().map(Image::reference).toList());
        assertEquals(otherRootfs, store.rootfs(store.get(otherImage.reference())));
    }

    @Test
    void pull_concurrentlyFromManyThreadsAndTwoStores_fetchesEachBlobOnce(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.delayBlobs(300);
            ImageStore first = store(root, proxy.address());
            ImageStore second = store(root, proxy.address());
            ImageReference appRef = ImageReference.parse(proxy.address() + "/test/app:1");
            ImageReference multiRef = ImageReference.parse(proxy.address() + "/test/multi:1");
            List<Callable<Image>> pulls = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                ImageStore store = i % 2 == 0 ? first : second;
                ImageReference reference = i % 4 < 2 ? appRef : multiRef;
                pulls.add(() -> store.pull(reference, null));
            }

            List<Image> images = new ArrayList<>();
            try (ExecutorService executor = Executors.newFixedThreadPool(8)) {
                for (Future<Image> pull : executor.invokeAll(pulls)) {
                    images.add(pull.get());
                }
            }

            assertTrue(images.stream().allMatch(image -> image.manifestDigest().equals(appAmd64.digest())));
            assertEquals(1, proxy.blobFetches(base.digest().toString()));
            assertEquals(1, proxy.blobFetches(app.digest().toString()));
        }
    }

    @Test
    void pull_concurrentlyFromTwoProcesses_fetchesEachSharedBlobOnce(@TempDir Path root) throws Exception {
        try (RegistryProxy proxy = new RegistryProxy(registry.address())) {
            proxy.delayBlobs(1000);
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Process child = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), PullMain.class.getName(),
                    root.toString(), proxy.address(), proxy.address() + "/test/app:1")
                    .redirectErrorStream(true).start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (proxy.totalRequests() == 0 && child.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }

            // The other process is now inside its pull; this one pulls an image with the same layers.
            Image here = store(root, proxy.address()).pull(ImageReference.parse(proxy.address() + "/test/multi:1"), null);
            String childOutput = new String(child.getInputStream().readAllBytes());

            assertEquals(0, child.waitFor(), childOutput);
            assertTrue(childOutput.contains(appAmd64.digest().toString()), childOutput);
            assertEquals(appAmd64.digest(), here.manifestDigest());
            assertEquals(1, proxy.blobFetches(base.digest().toString()));
            assertEquals(1, proxy.blobFetches(app.digest().toString()));
        }
    }

    @Test
    void fsInfo_afterPull_countsStoreBytesAndInodes(@TempDir Path root) {
        ImageStore store = store(root);
        FsInfo empty = store.fsInfo();
        store.pull(ref("app:1"), null);

        FsInfo pulled = store.fsInfo();

        assertTrue(pulled.usedBytes() >= empty.usedBytes() + base.descriptor().get("size").asLong(), pulled.toString());
        assertTrue(pulled.inodesUsed() > empty.inodesUsed());
        assertTrue(pulled.capacityBytes() > 0);
    }

    private static void assertEmpty(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            List<Path> left = entries.toList();
            assertTrue(left.isEmpty(), "expected " + dir + " empty, found " + left);
        }
    }
}
