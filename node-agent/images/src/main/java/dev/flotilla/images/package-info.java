/**
 * OCI images for microVMs: pull from a registry, keep in a content-addressed store, turn into a
 * read-only erofs root filesystem that a microVM attaches as a virtio-blk disk (the guest agent
 * puts a writable overlay on top).
 *
 * <h2>Using it</h2>
 * <pre>{@code
 * ImageStore store = ImageStore.open(StoreConfig.defaults(StoreConfig.defaultRoot()));
 * Image image = store.pull(ImageReference.parse("docker.io/library/busybox:latest"), null);
 * Path disk = store.rootfs(image);          // attach read-only
 * image.config().cmd();                     // Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts
 * store.list(); store.remove(ref); store.gc(); store.fsInfo();
 * }</pre>
 *
 * <h2>The store on disk</h2>
 * <pre>
 * root/
 *   blobs/sha256/&lt;hex&gt;        manifests, indexes, configs, layers (compressed, as pulled); shared by all images
 *   refs/&lt;sha256 of ref&gt;.json  reference -&gt; manifest digest (and index digest)
 *   rootfs/sha256/&lt;hex&gt;.erofs  root filesystem per manifest digest
 *   tmp/                        downloads and unpacks in progress
 *   locks/                      lock files (store.lock; one per blob, pull or rootfs being made)
 * </pre>
 *
 * <h2>Guarantees</h2>
 * <ul>
 *   <li><b>Nothing unverified is trusted.</b> Every manifest, config and layer is hashed while it
 *       is written and published under its digest only if hash and size match; layers are hashed
 *       again (and their uncompressed tar checked against the config's diff_ids) when unpacked.</li>
 *   <li><b>Crash-safe.</b> Blobs, refs and root filesystems are written to {@code tmp/}, fsynced
 *       and renamed into place; a ref is written last. A pull or unpack that fails or is killed
 *       leaves only files in {@code tmp/} (removed by gc) and blobs no ref points at.</li>
 *   <li><b>One fetch per blob.</b> Concurrent pulls in this JVM share one download per blob (and
 *       one pull per reference); other processes wait on a file lock and then find the blob.</li>
 *   <li><b>gc never races a pull:</b> pulls hold the store lock shared, gc exclusive.</li>
 *   <li><b>Hostile layers are refused</b> ({@link dev.flotilla.images.UnsafeLayerException}):
 *       {@code ..} paths, writes through symlinks leaving the root, device nodes, oversize
 *       entries, {@code trusted.*} extended attributes. See {@link dev.flotilla.images.unpack.LayerUnpacker}.</li>
 *   <li><b>File metadata survives</b> into the erofs image: owners, modes (setuid/setgid/sticky),
 *       modification times, hard links, and the extended attributes {@code security.capability}
 *       (file capabilities) and {@code user.*}, byte for byte.</li>
 * </ul>
 *
 * <h2>Packages</h2>
 * {@code oci} (JSON documents and media types), {@code registry} (distribution API client and
 * auth), {@code store} (blobs, refs, atomic files, locks), {@code unpack} (layers onto a
 * directory), {@code rootfs} (mkfs.erofs). This package is the facade and the value types.
 */
package dev.flotilla.images;
