package dev.flotilla.images.unpack;

import dev.flotilla.images.ImageException;
import dev.flotilla.images.UnsafeLayerException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies OCI layers (uncompressed tar streams) one after another onto a directory, with the
 * image-spec's changeset semantics: entries replace what lower layers had at their path,
 * {@code .wh.<name>} deletes {@code <name>} from lower layers, {@code .wh..wh..opq} empties a
 * directory of everything lower layers put there. Modes (with setuid/setgid/sticky), owners,
 * modification times, symlinks, hard links and FIFOs are kept, and so are the extended attributes
 * {@code security.capability} and {@code user.*} of files and directories (set last: chown clears
 * file capabilities); {@code trusted.*} is refused and other namespaces skipped, see {@link Xattrs}.
 *
 * <p>Refused, with an {@link UnsafeLayerException} naming the layer and entry: {@code ..} in a
 * name or link target, writes through a symlink that leaves the root (see {@link RootDirectory}),
 * hard links to directories or to missing files, device nodes unless the policy allows them,
 * entries over the size limits, and entry types we do not know.
 *
 * <p>Ownership needs root (or CAP_CHOWN): the node agent runs as root, and the erofs image keeps
 * the owners it finds in the directory.
 */
public final class LayerUnpacker {
    private static final String WHITEOUT_PREFIX = ".wh.";
    private static final String OPAQUE_MARKER = ".wh..wh..opq";
    /** Metadata files of aufs (hard link directory etc.): never part of the image's content. */
    private static final String AUFS_META_PREFIX = ".wh..wh.";
    private static final int COPY_BUFFER = 128 * 1024;

    private final UnpackPolicy policy;

    public LayerUnpacker(UnpackPolicy policy) {
        this.policy = policy;
    }

    /** Deletes a directory tree (or file) without following symlinks: for work directories. */
    public static void deleteTree(Path path) throws IOException {
        RootDirectory.deleteRecursively(path);
    }

    /** Counts over all the layers of one image, checked against the policy's image-wide limits. */
    public static final class Budget {
        private long bytes;
        private long entries;

        public long bytes() {
            return bytes;
        }

        public long entries() {
            return entries;
        }
    }

    /** What one layer touched; whiteouts only act on what lower layers left. */
    private record LayerState(String name, RootDirectory root, Set<String> touched, List<Path> directories,
                              List<FileTime> directoryTimes) {
        void touch(String relative) {
            String path = relative;
            while (!path.isEmpty() && touched.add(path)) {
                int slash = path.lastIndexOf('/');
                path = slash < 0 ? "" : path.substring(0, slash);
            }
        }
    }

    /**
     * Applies one layer.
     *
     * @param tar       the layer's uncompressed tar stream (not closed here)
     * @param root      the directory being assembled
     * @param layerName names the layer in errors, e.g. "layer 2 (sha256:...)"
     * @param budget    shared by all layers of the image
     */
    public void apply(InputStream tar, Path root, String layerName, Budget budget) throws IOException {
        LayerState layer = new LayerState(layerName, new RootDirectory(root), new HashSet<>(), new ArrayList<>(), new ArrayList<>());
        Xattrs.HeaderTap tap = new Xattrs.HeaderTap(tar);
        TarArchiveInputStream entries = new TarArchiveInputStream(tap);
        TarArchiveEntry entry;
        while (true) {
            // The previous entry's data is read to its end, so what the tap records from here on is
            // padding and the next entry's headers (see Xattrs).
            if (entries.getCurrentEntry() != null) {
                entries.transferTo(OutputStream.nullOutputStream());
            }
            tap.startRecording();
            entry = nextEntry(entries, layerName);
            byte[] headers = tap.stopRecording();
            if (entry == null) {
                break;
            }
            if (++budget.entries > policy.maxEntries()) {
                throw new UnsafeLayerException(layerName + " brings the image over the limit of " + policy.maxEntries() + " entries");
            }
            Map<String, byte[]> xattrs = Xattrs.declared(entry) ? Xattrs.parse(headers, tap.recordingStart(), entry, layerName) : Map.of();
            for (String xattr : xattrs.keySet()) {
                if (Xattrs.rule(xattr) == Xattrs.Rule.REFUSE) {
                    throw new UnsafeLayerException(layerName + " entry '" + entry.getName() + "' carries the extended attribute '"
                            + xattr + "'; trusted.* attributes (overlayfs metadata among them) are not allowed in images");
                }
            }
            applyEntry(entry, entries, layer, budget, xattrs);
        }
        // Directory times last, children before parents: adding entries changed them.
        for (int i = layer.directories().size() - 1; i >= 0; i--) {
            Files.getFileAttributeView(layer.directories().get(i), BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(layer.directoryTimes().get(i), null, null);
        }
    }

    private static TarArchiveEntry nextEntry(TarArchiveInputStream entries, String layerName) throws IOException {
        try {
            return entries.getNextEntry();
        } catch (IOException | IllegalArgumentException e) {
            throw new ImageException(layerName + " is not a valid tar archive: " + e.getMessage(), e);
        }
    }

    private void applyEntry(TarArchiveEntry entry, TarArchiveInputStream data, LayerState layer, Budget budget,
                            Map<String, byte[]> xattrs) throws IOException {
        String name = entry.getName();
        List<String> components = EntryPath.components(name, layer.name(), "name");
        if (components.isEmpty()) {
            if (!entry.isDirectory()) {
                throw new UnsafeLayerException(layer.name() + " has a non-directory entry for the image root itself ('" + name + "')");
            }
            setMetadata(layer.root().root(), entry, false);
            setXattrs(layer.root().root(), entry, xattrs, layer.name());
            layer.directories().add(layer.root().root());
            layer.directoryTimes().add(modificationTime(entry));
            return;
        }
        String base = components.getLast();
        List<String> parentComponents = components.subList(0, components.size() - 1);

        if (base.startsWith(WHITEOUT_PREFIX)) {
            applyWhiteout(name, base, parentComponents, layer);
            return;
        }

        Path parent = layer.root().directory(parentComponents, true, name, layer.name());
        Path path = parent.resolve(base);
        BasicFileAttributes existing = RootDirectory.lstat(path);

        byte type = entry.getLinkFlag();
        if (type == TarConstants.LF_DIR) {
            if (existing != null && !existing.isDirectory()) {
                Files.delete(path);
                existing = null;
            }
            if (existing == null) {
                Files.createDirectory(path);
            }
            setMetadata(path, entry, false);
            setXattrs(path, entry, xattrs, layer.name());
            layer.directories().add(path);
            layer.directoryTimes().add(modificationTime(entry));
        } else if (type == TarConstants.LF_LINK) {
            Path target = hardLinkTarget(entry, layer);
            if (target.equals(path)) {
                return;
            }
            RootDirectory.deleteRecursively(path);
            Files.createLink(path, target);
        } else if (type == TarConstants.LF_SYMLINK) {
            String target = entry.getLinkName();
            if (target.isEmpty() || target.indexOf('\0') >= 0) {
                throw new UnsafeLayerException(layer.name() + " symlink '" + name + "' has an empty or NUL-containing target");
            }
            RootDirectory.deleteRecursively(path);
            Files.createSymbolicLink(path, Path.of(target));
            setMetadata(path, entry, true);
        } else if (type == TarConstants.LF_NORMAL || type == TarConstants.LF_OLDNORM
                || type == TarConstants.LF_CONTIG || type == TarConstants.LF_GNUTYPE_SPARSE) {
            long size = entry.isSparse() ? entry.getRealSize() : entry.getSize();
            if (size > policy.maxEntryBytes()) {
                throw new UnsafeLayerException(layer.name() + " file '" + name + "' is " + size + " bytes, over the limit of "
                        + policy.maxEntryBytes() + " bytes per file");
            }
            if (budget.bytes + size > policy.maxImageBytes()) {
                throw new UnsafeLayerException(layer.name() + " file '" + name + "' brings the image over the limit of "
                        + policy.maxImageBytes() + " bytes of content");
            }
            RootDirectory.deleteRecursively(path);
            budget.bytes += copy(data, path, size, name, layer.name());
            setMetadata(path, entry, false);
            setXattrs(path, entry, xattrs, layer.name());
        } else if (type == TarConstants.LF_CHR || type == TarConstants.LF_BLK) {
            String kind = entry.isCharacterDevice() ? "character" : "block";
            if (!policy.allowDeviceNodes()) {
                throw new UnsafeLayerException(layer.name() + " contains the " + kind + " device node '" + name + "' ("
                        + entry.getDevMajor() + ":" + entry.getDevMinor() + "); device nodes are not allowed in images");
            }
            RootDirectory.deleteRecursively(path);
            SpecialFiles.mknod(path, entry.isCharacterDevice() ? SpecialFiles.S_IFCHR : SpecialFiles.S_IFBLK,
                    entry.getMode(), entry.getDevMajor(), entry.getDevMinor());
            setSpecialFileMetadata(path, entry);
        } else if (type == TarConstants.LF_FIFO) {
            RootDirectory.deleteRecursively(path);
            SpecialFiles.mknod(path, SpecialFiles.S_IFIFO, entry.getMode(), 0, 0);
            setSpecialFileMetadata(path, entry);
        } else {
            throw new UnsafeLayerException(layer.name() + " entry '" + name + "' has tar type '" + (char) type + "', which is not a file, directory, link or FIFO");
        }
        layer.touch(layer.root().relative(path));
    }

    /**
     * Applied xattrs of a file or directory (see {@link Xattrs#rule}), after owner, mode and time:
     * chown clears security.capability. Other entry types get none (Linux refuses user.* on them).
     */
    private static void setXattrs(Path path, TarArchiveEntry entry, Map<String, byte[]> xattrs, String layerName) throws IOException {
        for (Map.Entry<String, byte[]> xattr : xattrs.entrySet()) {
            if (Xattrs.rule(xattr.getKey()) != Xattrs.Rule.APPLY) {
                continue;
            }
            if (xattr.getValue().length > SpecialFiles.XATTR_SIZE_MAX) {
                throw new UnsafeLayerException(layerName + " entry '" + entry.getName() + "' has an extended attribute '"
                        + xattr.getKey() + "' of " + xattr.getValue().length + " bytes, over Linux's limit of "
                        + SpecialFiles.XATTR_SIZE_MAX + " bytes");
            }
            SpecialFiles.lsetxattr(path, xattr.getKey(), xattr.getValue());
        }
    }

    private static FileTime modificationTime(TarArchiveEntry entry) {
        FileTime time = entry.getLastModifiedTime();
        return time != null ? time : FileTime.fromMillis(0);
    }

    private Path hardLinkTarget(TarArchiveEntry entry, LayerState layer) throws IOException {
        String linkName = entry.getLinkName();
        List<String> target = EntryPath.components(linkName, layer.name(), "hard link target");
        if (target.isEmpty()) {
            throw new UnsafeLayerException(layer.name() + " hard link '" + entry.getName() + "' points at the image root");
        }
        Path dir = layer.root().directory(target.subList(0, target.size() - 1), false, entry.getName(), layer.name());
        Path path = dir == null ? null : dir.resolve(target.getLast());
        BasicFileAttributes attributes = path == null ? null : RootDirectory.lstat(path);
        if (attributes == null) {
            throw new UnsafeLayerException(layer.name() + " hard link '" + entry.getName() + "' points at '" + linkName
                    + "', which no earlier entry created");
        }
        if (attributes.isDirectory()) {
            throw new UnsafeLayerException(layer.name() + " hard link '" + entry.getName() + "' points at the directory '" + linkName + "'");
        }
        return path;
    }

    private void applyWhiteout(String name, String base, List<String> parentComponents, LayerState layer) throws IOException {
        if (base.equals(OPAQUE_MARKER)) {
            Path dir = layer.root().directory(parentComponents, true, name, layer.name());
            layer.touch(layer.root().relative(dir));
            clearLowerEntries(dir, layer);
            return;
        }
        if (base.startsWith(AUFS_META_PREFIX)) {
            return;
        }
        String hidden = base.substring(WHITEOUT_PREFIX.length());
        if (hidden.isEmpty() || hidden.equals(".") || hidden.equals("..")) {
            throw new UnsafeLayerException(layer.name() + " has a malformed whiteout '" + name + "'");
        }
        Path dir = layer.root().directory(parentComponents, false, name, layer.name());
        if (dir == null) {
            return;
        }
        Path path = dir.resolve(hidden);
        if (!layer.touched().contains(layer.root().relative(path))) {
            RootDirectory.deleteRecursively(path);
        }
    }

    /** Opaque directory: remove what lower layers put below {@code dir}, keep this layer's entries. */
    private static void clearLowerEntries(Path dir, LayerState layer) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(children::add);
        }
        for (Path child : children) {
            if (!layer.touched().contains(layer.root().relative(child))) {
                RootDirectory.deleteRecursively(child);
            } else if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                clearLowerEntries(child, layer);
            }
        }
    }

    private static long copy(TarArchiveInputStream data, Path path, long size, String name, String layerName) throws IOException {
        long written = 0;
        try (OutputStream out = Files.newOutputStream(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            byte[] buffer = new byte[(int) Math.min(COPY_BUFFER, Math.max(size, 1))];
            int n;
            while ((n = data.read(buffer)) >= 0) {
                written += n;
                if (written > size) {
                    throw new UnsafeLayerException(layerName + " file '" + name + "' holds more data than its declared " + size + " bytes");
                }
                out.write(buffer, 0, n);
            }
        }
        if (written != size) {
            throw new ImageException(layerName + " file '" + name + "' ended after " + written + " of " + size + " bytes (truncated layer)");
        }
        return written;
    }

    private static void setMetadata(Path path, TarArchiveEntry entry, boolean symlink) throws IOException {
        long uid = entry.getLongUserId();
        long gid = entry.getLongGroupId();
        if (uid < 0 || gid < 0 || uid > 0xFFFF_FFFEL || gid > 0xFFFF_FFFEL) {
            throw new UnsafeLayerException("entry '" + entry.getName() + "' has an invalid owner " + uid + ":" + gid);
        }
        try {
            // The owner first: chown clears setuid and setgid bits, so the mode goes after it.
            if (uid != 0 || gid != 0 || !isOwnedByRoot(path)) {
                Files.setAttribute(path, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(path, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
            }
        } catch (FileSystemException e) {
            throw new ImageException("cannot give '" + entry.getName() + "' its owner " + uid + ":" + gid
                    + " (" + e.getReason() + "); unpacking images needs root or CAP_CHOWN", e);
        }
        if (!symlink) {
            Files.setAttribute(path, "unix:mode", entry.getMode() & 07777, LinkOption.NOFOLLOW_LINKS);
        }
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(modificationTime(entry), null, null);
    }

    /** FIFOs and device nodes: the JDK would open them to set metadata (see SpecialFiles). */
    private static void setSpecialFileMetadata(Path path, TarArchiveEntry entry) throws IOException {
        long uid = entry.getLongUserId();
        long gid = entry.getLongGroupId();
        if (uid < 0 || gid < 0 || uid > 0xFFFF_FFFEL || gid > 0xFFFF_FFFEL) {
            throw new UnsafeLayerException("entry '" + entry.getName() + "' has an invalid owner " + uid + ":" + gid);
        }
        SpecialFiles.lchown(path, (int) uid, (int) gid);
        SpecialFiles.chmod(path, entry.getMode() & 07777);
        SpecialFiles.setModificationTime(path, modificationTime(entry));
    }

    private static boolean isOwnedByRoot(Path path) throws IOException {
        return (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS) == 0
                && (Integer) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS) == 0;
    }
}
