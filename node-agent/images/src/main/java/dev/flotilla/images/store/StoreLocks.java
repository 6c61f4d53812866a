package dev.flotilla.images.store;

import dev.flotilla.images.ImageException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The locks of one store root, shared by every {@code ImageStore} of this JVM on that root (a Java
 * process may hold only one lock on a file region, so two stores on one root must share them).
 *
 * <ul>
 *   <li>The <em>store lock</em>: pulls and unpacks hold it shared, garbage collection exclusive, so
 *       gc never deletes a blob that a pull has fetched but not yet referenced. In the JVM it is a
 *       read-write lock; across processes, a {@code flock}-style lock on {@code locks/store.lock}
 *       held shared while any thread here holds it shared.</li>
 *   <li>{@link #once}: one fetch or build per key at a time. Threads of this JVM asking for a key
 *       already in progress wait for that result instead of doing the work again; another process
 *       is held off by an exclusive file lock on {@code locks/<key>.lock}, after which the caller
 *       re-checks whether the work is still needed.</li>
 * </ul>
 * Lock files are never deleted while the store is in use (deleting a lock file lets two processes
 * lock two different files of one name); gc removes them while it holds the store lock exclusively.
 */
public final class StoreLocks {
    private static final ConcurrentMap<Path, StoreLocks> BY_ROOT = new ConcurrentHashMap<>();

    private final Path lockDir;
    private final ReentrantReadWriteLock jvmLock = new ReentrantReadWriteLock();
    private final ConcurrentMap<String, CompletableFuture<Object>> inFlight = new ConcurrentHashMap<>();
    private int sharedHolders;
    private FileChannel sharedChannel;
    private FileLock sharedFileLock;

    private StoreLocks(Path lockDir) {
        this.lockDir = lockDir;
    }

    /** The locks of the store whose lock directory is {@code lockDir} (a real, absolute path). */
    public static StoreLocks forLockDirectory(Path lockDir) {
        return BY_ROOT.computeIfAbsent(lockDir, StoreLocks::new);
    }

    /** A held lock; closing releases it. */
    public interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /** Takes the store lock shared (pulls, unpacks, reads that must not race gc). */
    public Held shared() {
        jvmLock.readLock().lock();
        try {
            synchronized (this) {
                if (sharedHolders == 0) {
                    sharedChannel = openLockFile("store");
                    try {
                        sharedFileLock = sharedChannel.lock(0, Long.MAX_VALUE, true);
                    } catch (IOException | RuntimeException e) {
                        closeQuietly(sharedChannel);
                        throw e;
                    }
                }
                sharedHolders++;
            }
        } catch (IOException e) {
            jvmLock.readLock().unlock();
            throw new ImageException("cannot lock the image store at " + lockDir.getParent() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            jvmLock.readLock().unlock();
            throw e;
        }
        return () -> {
            synchronized (StoreLocks.this) {
                if (--sharedHolders == 0) {
                    closeQuietly(sharedChannel);
                    sharedChannel = null;
                    sharedFileLock = null;
                }
            }
            jvmLock.readLock().unlock();
        };
    }

    /** Takes the store lock exclusively (garbage collection). */
    public Held exclusive() {
        jvmLock.writeLock().lock();
        FileChannel channel = null;
        try {
            channel = openLockFile("store");
            channel.lock();
        } catch (IOException e) {
            closeQuietly(channel);
            jvmLock.writeLock().unlock();
            throw new ImageException("cannot lock the image store at " + lockDir.getParent() + " for garbage collection: " + e.getMessage(), e);
        }
        FileChannel held = channel;
        return () -> {
            closeQuietly(held);
            jvmLock.writeLock().unlock();
        };
    }

    /** Work done under {@link #once}. */
    @FunctionalInterface
    public interface Work<T> {
        T run() throws IOException;
    }

    /**
     * Runs {@code work} for {@code key} unless this JVM is already running it, in which case the
     * caller gets that run's result (or its failure). Across processes, runs are serialised by a
     * file lock; {@code work} must therefore first check whether its result already exists.
     */
    @SuppressWarnings("unchecked")
    public <T> T once(String key, Work<T> work) {
        CompletableFuture<Object> mine = new CompletableFuture<>();
        CompletableFuture<Object> running = inFlight.putIfAbsent(key, mine);
        if (running != null) {
            try {
                return (T) running.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ImageException("interrupted while waiting for " + key, e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException runtime) {
                    throw runtime;
                }
                throw new ImageException(key + " failed: " + e.getCause().getMessage(), e.getCause());
            }
        }
        try (FileChannel channel = openLockFile(key); FileLock ignored = channel.lock()) {
            T result = work.run();
            mine.complete(result);
            return result;
        } catch (IOException e) {
            ImageException failure = new ImageException(key + " failed: " + e.getMessage(), e);
            mine.completeExceptionally(failure);
            throw failure;
        } catch (RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(key, mine);
        }
    }

    private FileChannel openLockFile(String name) throws IOException {
        try {
            return FileChannel.open(lockDir.resolve(name + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // Closing a lock file channel releases the lock even when close reports an error.
            }
        }
    }
}
