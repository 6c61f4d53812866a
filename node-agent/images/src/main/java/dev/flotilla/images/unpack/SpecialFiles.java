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
 * {@code mknod(2)} for FIFOs and device nodes, which the JDK cannot create. The only native call of
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

    /** glibc's gnu_dev_makedev encoding. */
    static long makedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    private static String strerror(int errno) throws Throwable {
        MemorySegment message = (MemorySegment) STRERROR.invokeExact(errno);
        return message.reinterpret(512).getString(0);
    }
}
