package dev.flotilla.images.unpack;

import dev.flotilla.images.UnsafeLayerException;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The directory a root filesystem is assembled in, and the one way to find a path inside it.
 *
 * <p>Paths are resolved component by component with {@code lstat}, never by the kernel: a symlink
 * an earlier entry planted is followed only when its target is relative and stays inside the root
 * (merged-usr's {@code lib -> usr/lib}); an absolute symlink, or one that climbs above the root,
 * met on the way to an entry is refused, because following it on the host would write outside the
 * image. The last component of an entry is never followed: it is replaced.
 */
final class RootDirectory {
    /** Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
    private static final int MAX_SYMLINK_HOPS = 40;

    private final Path root;

    RootDirectory(Path root) {
        this.root = root;
    }

    Path root() {
        return root;
    }

    /**
     * The directory named by {@code components}, inside the root.
     *
     * @param create create missing directories (mode 0755, root-owned) instead of returning null
     * @return the resolved directory, or null when it is missing and {@code create} is false
     */
    Path directory(List<String> components, boolean create, String entry, String layer) throws IOException {
        Deque<String> pending = new ArrayDeque<>(components);
        List<String> resolved = new ArrayList<>();
        Path current = root;
        int hops = 0;
        while (!pending.isEmpty()) {
            String component = pending.pollFirst();
            if (component.isEmpty() || component.equals(".")) {
                continue;
            }
            if (component.equals("..")) {
                if (resolved.isEmpty()) {
                    throw new UnsafeLayerException(layer + " entry '" + entry + "' goes through a symlink that climbs above the image root; refusing the layer");
                }
                resolved.removeLast();
                current = current.getParent();
                continue;
            }
            Path next = current.resolve(component);
            BasicFileAttributes attributes = lstat(next);
            if (attributes == null) {
                if (!create) {
                    return null;
                }
                Files.createDirectory(next);
                Files.setAttribute(next, "unix:mode", 0755, LinkOption.NOFOLLOW_LINKS);
                attributes = lstat(next);
            }
            if (attributes.isDirectory()) {
                resolved.add(component);
                current = next;
            } else if (attributes.isSymbolicLink()) {
                if (++hops > MAX_SYMLINK_HOPS) {
                    throw new UnsafeLayerException(layer + " entry '" + entry + "' goes through more than " + MAX_SYMLINK_HOPS + " symlinks; refusing the layer");
                }
                String target = Files.readSymbolicLink(next).toString();
                if (target.startsWith("/")) {
                    throw new UnsafeLayerException(layer + " entry '" + entry + "' would be written through the absolute symlink '"
                            + String.join("/", resolved) + (resolved.isEmpty() ? "" : "/") + component + "' -> '" + target
                            + "', which points outside the image root on this host; refusing the layer");
                }
                String[] parts = target.split("/");
                for (int i = parts.length - 1; i >= 0; i--) {
                    pending.addFirst(parts[i]);
                }
            } else {
                throw new UnsafeLayerException(layer + " entry '" + entry + "' needs '" + String.join("/", resolved)
                        + (resolved.isEmpty() ? "" : "/") + component + "' to be a directory, but it is a file");
            }
        }
        return current;
    }

    /** The path relative to the root, as used to remember what a layer touched. */
    String relative(Path path) {
        return root.relativize(path).toString();
    }

    static BasicFileAttributes lstat(Path path) throws IOException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Deletes a file, symlink or whole directory tree without following any symlink. */
    static void deleteRecursively(Path path) throws IOException {
        BasicFileAttributes attributes = lstat(path);
        if (attributes == null) {
            return;
        }
        if (!attributes.isDirectory()) {
            Files.delete(path);
            return;
        }
        Files.walkFileTree(path, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException failure) throws IOException {
                if (failure != null) {
                    throw failure;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
