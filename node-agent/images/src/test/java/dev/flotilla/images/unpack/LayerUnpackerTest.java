package dev.flotilla.images.unpack;

import dev.flotilla.images.UnsafeLayerException;
import dev.flotilla.images.testsupport.TarBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LayerUnpackerTest {
    @TempDir
    Path work;

    private final LayerUnpacker unpacker = new LayerUnpacker(UnpackPolicy.defaults());
    private final LayerUnpacker.Budget budget = new LayerUnpacker.Budget();

    private Path root() throws IOException {
        Path root = work.resolve("root");
        Files.createDirectories(root);
        return root;
    }

    private void apply(Path root, byte[] tar) throws IOException {
        unpacker.apply(new ByteArrayInputStream(tar), root, "test layer", budget);
    }

    private void apply(LayerUnpacker with, Path root, byte[] tar) throws IOException {
        with.apply(new ByteArrayInputStream(tar), root, "test layer", new LayerUnpacker.Budget());
    }

    @Test
    void apply_filesAndDirectories_keepsContentModeOwnerAndTime() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().dir("etc", 0750).file("etc/secret", "s3cret".getBytes(), 04711, 1000, 1001)
                .file("./etc/motd", "hello").build());

        Path secret = root.resolve("etc/secret");
        PosixFileAttributes attributes = Files.readAttributes(secret, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        assertEquals("s3cret", Files.readString(secret));
        assertEquals(04711, (Integer) Files.getAttribute(secret, "unix:mode") & 07777);
        assertEquals(1000, Files.getAttribute(secret, "unix:uid"));
        assertEquals(1001, Files.getAttribute(secret, "unix:gid"));
        assertEquals(TarBuilder.MTIME, attributes.lastModifiedTime().toInstant());
        assertEquals(0750, (Integer) Files.getAttribute(root.resolve("etc"), "unix:mode") & 07777);
        assertEquals(TarBuilder.MTIME, Files.getLastModifiedTime(root.resolve("etc")).toInstant());
        assertEquals("hello", Files.readString(root.resolve("etc/motd")));
    }

    @Test
    void apply_symlinkAndHardlink_areCreatedAsLinks() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().file("bin/busybox", "elf".getBytes(), 0755, 0, 0)
                .symlink("bin/sh", "/bin/busybox").hardlink("bin/ls", "bin/busybox").build());

        assertEquals("/bin/busybox", Files.readSymbolicLink(root.resolve("bin/sh")).toString());
        Object busyboxInode = Files.readAttributes(root.resolve("bin/busybox"), BasicFileAttributes.class).fileKey();
        assertEquals(busyboxInode, Files.readAttributes(root.resolve("bin/ls"), BasicFileAttributes.class).fileKey());
        assertEquals(2, Files.getAttribute(root.resolve("bin/ls"), "unix:nlink"));
    }

    @Test
    void apply_fifo_createsFifo() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().fifo("run/initctl").build());

        assertTrue(Files.readAttributes(root.resolve("run/initctl"), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther());
    }

    @Test
    void apply_whiteout_removesFileOfLowerLayer() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().file("etc/old.conf", "old").file("etc/keep", "keep").build());
        apply(root, new TarBuilder().whiteout("etc/old.conf").build());

        assertFalse(Files.exists(root.resolve("etc/old.conf"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(root.resolve("etc/keep")));
        assertFalse(Files.exists(root.resolve("etc/.wh.old.conf")));
    }

    @Test
    void apply_whiteoutOfDirectory_removesWholeTree() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().file("var/cache/a/b/c", "x").build());
        apply(root, new TarBuilder().whiteout("var/cache").build());

        assertFalse(Files.exists(root.resolve("var/cache")));
        assertTrue(Files.isDirectory(root.resolve("var")));
    }

    @Test
    void apply_whiteoutInSameLayer_doesNotHideThatLayersFile() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().file("etc/new", "new").whiteout("etc/new").build());

        assertEquals("new", Files.readString(root.resolve("etc/new")));
    }

    @Test
    void apply_opaqueDirectory_keepsOnlyThisLayersEntries() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().file("var/cache/a", "a").file("var/cache/sub/b", "b").build());
        apply(root, new TarBuilder().dir("var/cache", 0755).file("var/cache/c", "c").opaque("var/cache")
                .file("var/cache/sub/d", "d").build());

        assertFalse(Files.exists(root.resolve("var/cache/a")));
        assertFalse(Files.exists(root.resolve("var/cache/sub/b")));
        assertEquals("c", Files.readString(root.resolve("var/cache/c")));
        assertEquals("d", Files.readString(root.resolve("var/cache/sub/d")));
    }

    @Test
    void apply_fileReplacingDirectory_replacesIt() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().file("opt/app/x", "x").build());
        apply(root, new TarBuilder().file("opt/app", "now a file").build());

        assertEquals("now a file", Files.readString(root.resolve("opt/app")));
    }

    @Test
    void apply_fileOverSymlink_replacesSymlinkNotItsTarget() throws IOException {
        Path root = root();
        Path outside = Files.writeString(work.resolve("outside"), "untouched");
        apply(root, new TarBuilder().symlink("etc/passwd", outside.toString()).build());
        apply(root, new TarBuilder().file("etc/passwd", "root:x:0:0").build());

        assertEquals("untouched", Files.readString(outside));
        assertEquals("root:x:0:0", Files.readString(root.resolve("etc/passwd")));
        assertFalse(Files.isSymbolicLink(root.resolve("etc/passwd")));
    }

    @Test
    void apply_relativeSymlinkedDirectoryInsideRoot_isFollowed() throws IOException {
        Path root = root();
        apply(root, new TarBuilder().dir("usr/lib", 0755).symlink("lib", "usr/lib").build());
        apply(root, new TarBuilder().file("lib/libc.so", "libc").build());

        assertEquals("libc", Files.readString(root.resolve("usr/lib/libc.so")));
    }

    @Test
    void apply_dotDotPath_isRefused() throws IOException {
        Path root = root();
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class,
                () -> apply(root, new TarBuilder().file("../escaped", "pwned").build()));

        assertTrue(refused.getMessage().contains("'..'"), refused.getMessage());
        assertFalse(Files.exists(work.resolve("escaped")));
    }

    @Test
    void apply_writeThroughAbsoluteSymlink_isRefused() throws IOException {
        Path root = root();
        Path outside = Files.createDirectories(work.resolve("host-etc"));
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class, () -> apply(root,
                new TarBuilder().symlink("evil", outside.toString()).file("evil/passwd", "pwned").build()));

        assertTrue(refused.getMessage().contains("absolute symlink 'evil'"), refused.getMessage());
        assertFalse(Files.exists(outside.resolve("passwd")));
    }

    @Test
    void apply_writeThroughSymlinkClimbingAboveRoot_isRefused() throws IOException {
        Path root = root();
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class, () -> apply(root,
                new TarBuilder().dir("a", 0755).symlink("a/up", "../..").file("a/up/escaped", "pwned").build()));

        assertTrue(refused.getMessage().contains("climbs above the image root"), refused.getMessage());
        assertFalse(Files.exists(work.resolve("escaped")));
    }

    @Test
    void apply_hardlinkWithDotDotTarget_isRefused() throws IOException {
        Path root = root();
        Files.writeString(work.resolve("host-secret"), "secret");
        assertThrows(UnsafeLayerException.class, () -> apply(root, new TarBuilder().hardlink("stolen", "../host-secret").build()));

        assertFalse(Files.exists(root.resolve("stolen")));
    }

    @Test
    void apply_hardlinkThroughAbsoluteSymlink_isRefused() throws IOException {
        Path root = root();
        Path outside = Files.createDirectories(work.resolve("host"));
        Files.writeString(outside.resolve("shadow"), "secret");
        assertThrows(UnsafeLayerException.class, () -> apply(root,
                new TarBuilder().symlink("etc", outside.toString()).hardlink("stolen", "etc/shadow").build()));

        assertFalse(Files.exists(root.resolve("stolen")));
    }

    @Test
    void apply_hardlinkToMissingFile_isRefused() throws IOException {
        Path root = root();
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class,
                () -> apply(root, new TarBuilder().hardlink("a", "does/not/exist").build()));

        assertTrue(refused.getMessage().contains("which no earlier entry created"), refused.getMessage());
    }

    @Test
    void apply_deviceNode_isRefusedByDefault() throws IOException {
        Path root = root();
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class,
                () -> apply(root, new TarBuilder().charDevice("dev/mem", 1, 1).build()));

        assertTrue(refused.getMessage().contains("device node 'dev/mem' (1:1)"), refused.getMessage());
        assertFalse(Files.exists(root.resolve("dev/mem"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void apply_deviceNodeWhenAllowed_createsNode() throws IOException {
        Path root = root();
        LayerUnpacker permissive = new LayerUnpacker(new UnpackPolicy(1 << 20, 1 << 20, 100, true));
        apply(permissive, root, new TarBuilder().charDevice("dev/null", 1, 3).build());

        assertTrue(Files.readAttributes(root.resolve("dev/null"), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther());
        assertEquals(0x103L, ((Long) Files.getAttribute(root.resolve("dev/null"), "unix:rdev", LinkOption.NOFOLLOW_LINKS)) & 0xfffff);
    }

    @Test
    void apply_entryOverFileLimit_isRefused() throws IOException {
        Path root = root();
        LayerUnpacker strict = new LayerUnpacker(new UnpackPolicy(100, 1 << 20, 100, false));
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class,
                () -> apply(strict, root, new TarBuilder().file("big", new byte[101], 0644, 0, 0).build()));

        assertTrue(refused.getMessage().contains("over the limit of 100 bytes per file"), refused.getMessage());
        assertFalse(Files.exists(root.resolve("big")));
    }

    @Test
    void apply_imageOverTotalLimit_isRefused() throws IOException {
        Path root = root();
        LayerUnpacker strict = new LayerUnpacker(new UnpackPolicy(100, 150, 100, false));
        byte[] tar = new TarBuilder().file("a", new byte[100], 0644, 0, 0).file("b", new byte[100], 0644, 0, 0).build();

        assertThrows(UnsafeLayerException.class, () -> apply(strict, root, tar));
    }

    @Test
    void apply_tooManyEntries_isRefused() throws IOException {
        Path root = root();
        LayerUnpacker strict = new LayerUnpacker(new UnpackPolicy(100, 1000, 2, false));

        assertThrows(UnsafeLayerException.class, () -> apply(strict, root, new TarBuilder().file("a", "").file("b", "").file("c", "").build()));
    }

    @Test
    void apply_garbageInsteadOfTar_failsWithMessage() throws IOException {
        Path root = root();
        byte[] garbage = new byte[1024];
        java.util.Arrays.fill(garbage, (byte) 'x');

        Exception failure = assertThrows(Exception.class, () -> apply(root, garbage));
        assertTrue(failure.getMessage().contains("test layer"), failure.getMessage());
    }

    /** cap_net_raw+ep as a VFS_CAP_REVISION_2 value: magic 0x02000001 with the effective bit, then permitted/inheritable pairs. */
    static final byte[] CAP_NET_RAW = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    /** Every byte value, the high ones in particular (UTF-8 decoding would turn them into U+FFFD). */
    static final byte[] ALL_BYTES = allBytes();

    private static byte[] allBytes() {
        byte[] bytes = new byte[256];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (255 - i);
        }
        return bytes;
    }

    @Test
    void apply_schilyXattrs_setsCapabilityAndUserAttributesByteForByte() throws IOException {
        Path root = root();
        apply(root, new TarBuilder()
                .pax(new java.util.LinkedHashMap<>(java.util.Map.of("SCHILY.xattr.user.flotilla.test", "dir".getBytes()))).dir("bin", 0755)
                .pax(java.util.Map.of("SCHILY.xattr.security.capability", CAP_NET_RAW, "SCHILY.xattr.user.binary", ALL_BYTES))
                .file("bin/ping", "#!ping".getBytes(), 04755, 1000, 1000)
                .file("bin/plain", "no xattrs")
                .build());

        Path ping = root.resolve("bin/ping");
        assertArrayEquals(CAP_NET_RAW, SpecialFiles.lgetxattr(ping, "security.capability"));
        assertArrayEquals(ALL_BYTES, SpecialFiles.lgetxattr(ping, "user.binary"));
        assertEquals(1000, Files.getAttribute(ping, "unix:uid"), "xattrs come after the owner");
        assertEquals(04755, (Integer) Files.getAttribute(ping, "unix:mode") & 07777);
        assertArrayEquals("dir".getBytes(), SpecialFiles.lgetxattr(root.resolve("bin"), "user.flotilla.test"));
        assertNull(SpecialFiles.lgetxattr(root.resolve("bin/plain"), "security.capability"));
    }

    @Test
    void apply_libarchiveXattr_isDecoded() throws IOException {
        Path root = root();
        String encoded = java.util.Base64.getEncoder().encodeToString(ALL_BYTES);
        apply(root, new TarBuilder()
                .pax(java.util.Map.of("LIBARCHIVE.xattr.user.with%20space", encoded.getBytes()))
                .file("f", "x".getBytes(), 0644, 0, 0)
                .build());

        assertArrayEquals(ALL_BYTES, SpecialFiles.lgetxattr(root.resolve("f"), "user.with space"));
    }

    @Test
    void apply_trustedOverlayXattr_isRefused() throws IOException {
        Path root = root();
        UnsafeLayerException refused = assertThrows(UnsafeLayerException.class, () -> apply(root, new TarBuilder()
                .pax(java.util.Map.of("SCHILY.xattr.trusted.overlay.opaque", "y".getBytes())).dir("etc", 0755)
                .build()));

        assertTrue(refused.getMessage().contains("'etc/' carries the extended attribute 'trusted.overlay.opaque'"), refused.getMessage());
        assertFalse(Files.exists(root.resolve("etc")));
    }

    @Test
    void apply_otherNamespaces_areSkipped() throws IOException {
        Path root = root();
        apply(root, new TarBuilder()
                .pax(java.util.Map.of("SCHILY.xattr.security.selinux", "system_u:object_r:bin_t:s0".getBytes(),
                        "SCHILY.xattr.user.kept", "yes".getBytes()))
                .file("f", "x".getBytes(), 0644, 0, 0)
                .pax(java.util.Map.of("SCHILY.xattr.user.onlink", "no".getBytes())).symlink("l", "f")
                .build());

        assertNull(SpecialFiles.lgetxattr(root.resolve("f"), "security.selinux"));
        assertArrayEquals("yes".getBytes(), SpecialFiles.lgetxattr(root.resolve("f"), "user.kept"));
        assertNull(SpecialFiles.lgetxattr(root.resolve("l"), "user.onlink"));
    }

    @Test
    void apply_xattrsAfterLongNameAndUnreadWhiteoutData_stillFound() throws IOException {
        Path root = root();
        String longName = "d/" + "n".repeat(150);
        apply(root, new TarBuilder()
                .file("lower", "x")
                .file(".wh.lower", "whiteout data nobody reads, 37 bytes")
                .pax(java.util.Map.of("SCHILY.xattr.user.x", ALL_BYTES, "path", longName.getBytes()))
                .file(longName, "long".getBytes(), 0644, 0, 0)
                .build());

        assertArrayEquals(ALL_BYTES, SpecialFiles.lgetxattr(root.resolve(longName), "user.x"));
    }
}
