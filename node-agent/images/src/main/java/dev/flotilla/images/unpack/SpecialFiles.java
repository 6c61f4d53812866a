package dev.flotilla.images.unpack;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * {@code mknod(2)} for FIFOs and device nodes, which the JDK cannot create, and metadata calls for
 * them: the JDK sets modes and owners with {@code NOFOLLOW_LINKS} by opening the file, and opening
 * a FIFO blocks (opening a device node has side effects), so these go straight to the path-based
 * system calls. Also {@code lsetxattr(2)}, which the JDK has no call for outside the {@code user.}
 * namespace (file capabilities live in {@code security.capability}). The only native calls of
 * this library; linked once.
 */
final class SpecialFiles {
    static final int S_IFIFO = 0010000;
    static final int S_IFCHR = 0020000;
    static final int S_IFBLK = 0060000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /** int mknod(const char *path, mode_t mode, dev_t dev): mode_t is 32-bit, dev_t 64-bit on x86_64. */
    private static final MethodHandle MKNOD = LINKER.downcallHandle(
            LINKER.defaultLookup().find("mknod").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CHMOD = LINKER.downcallHandle(
            LINKER.defaultLookup().find("chmod").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle LCHOWN = LINKER.downcallHandle(
            LINKER.defaultLookup().find("lchown").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    /** int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags). */
    private static final MethodHandle UTIMENSAT = LINKER.downcallHandle(
            LINKER.defaultLookup().find("utimensat").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    /** int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags). */
    private static final MethodHandle LSETXATTR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("lsetxattr").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
            Linker.Option.captureCallState("errno"));
    /** ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size). */
    private static final MethodHandle LGETXATTR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("lgetxattr").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.captureCallState("errno"));
    /** Largest xattr value Linux accepts (XATTR_SIZE_MAX). */
    static final int XATTR_SIZE_MAX = 65536;
    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    /** tv_nsec value telling utimensat to leave that time alone. */
    private static final long UTIME_OMIT = (1L << 30) - 2;
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private SpecialFiles() {
    }

    /** Creates a FIFO, or a character or block device ({@code type} is one of the S_IF constants). */
    static void mknod(Path path, int type, int permissions, long major, long minor) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment cPath = arena.allocateFrom(path.toString());
            int result = (int) MKNOD.invokeExact(capture, cPath, type | (permissions & 07777), makedev(major, minor));
            if (result != 0) {
                int errno = (int) ERRNO.get(capture, 0L);
                throw new IOException("mknod " + path + " failed: " + strerror(errno) + " (errno " + errno + ")");
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mknod call failed", t);
        }
    }

    /** chmod(2) with all 12 mode bits; the path's last component is the special file itself. */
    static void chmod(Path path, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int result = (int) CHMOD.invokeExact(capture, arena.allocateFrom(path.toString()), mode & 07777);
            check(result, capture, "chmod", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("chmod call failed", t);
        }
    }

    /** lchown(2); uid and gid are unsigned 32-bit values passed in an int. */
    static void lchown(Path path, int uid, int gid) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int result = (int) LCHOWN.invokeExact(capture, arena.allocateFrom(path.toString()), uid, gid);
            check(result, capture, "lchown", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("lchown call failed", t);
        }
    }

    /** Sets the modification time (access time untouched) without following or opening the file. */
    static void setModificationTime(Path path, java.nio.file.attribute.FileTime time) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment times = arena.allocate(ValueLayout.JAVA_LONG, 4);
            java.time.Instant instant = time.toInstant();
            times.setAtIndex(ValueLayout.JAVA_LONG, 0, 0);
            times.setAtIndex(ValueLayout.JAVA_LONG, 1, UTIME_OMIT);
            times.setAtIndex(ValueLayout.JAVA_LONG, 2, instant.getEpochSecond());
            times.setAtIndex(ValueLayout.JAVA_LONG, 3, instant.getNano());
            int result = (int) UTIMENSAT.invokeExact(capture, AT_FDCWD, arena.allocateFrom(path.toString()), times, AT_SYMLINK_NOFOLLOW);
            check(result, capture, "utimensat", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("utimensat call failed", t);
        }
    }

    /** lsetxattr(2): sets one extended attribute on the path itself (a symlink is not followed). */
    static void lsetxattr(Path path, String name, byte[] value) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment cValue = arena.allocate(Math.max(value.length, 1));
            MemorySegment.copy(value, 0, cValue, ValueLayout.JAVA_BYTE, 0, value.length);
            int result = (int) LSETXATTR.invokeExact(capture, arena.allocateFrom(path.toString()), arena.allocateFrom(name),
                    cValue, (long) value.length, 0);
            check(result, capture, "lsetxattr " + name + " on", path);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("lsetxattr call failed", t);
        }
    }

    /** lgetxattr(2): the attribute's value, or null when the path has no attribute of that name. */
    static byte[] lgetxattr(Path path, String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment buffer = arena.allocate(XATTR_SIZE_MAX);
            long size = (long) LGETXATTR.invokeExact(capture, arena.allocateFrom(path.toString()), arena.allocateFrom(name),
                    buffer, (long) XATTR_SIZE_MAX);
            if (size < 0) {
                int errno = (int) ERRNO.get(capture, 0L);
                if (errno == ENODATA) {
                    return null;
                }
                throw new IOException("lgetxattr " + name + " on " + path + " failed: " + strerror(errno) + " (errno " + errno + ")");
            }
            return buffer.asSlice(0, size).toArray(ValueLayout.JAVA_BYTE);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("lgetxattr call failed", t);
        }
    }

    private static final int ENODATA = 61;

    private static void check(int result, MemorySegment capture, String call, Path path) throws Throwable {
        if (result != 0) {
            int errno = (int) ERRNO.get(capture, 0L);
            throw new IOException(call + " " + path + " failed: " + strerror(errno) + " (errno " + errno + ")");
        }
    }

    /** glibc's gnu_dev_makedev encoding. */
    static long makedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    private static String strerror(int errno) throws Throwable {
        MemorySegment message = (MemorySegment) STRERROR.invokeExact(errno);
        return message.reinterpret(512).getString(0);
    }
}
