package dev.flotilla.images.store;

import dev.flotilla.images.Digest;
import dev.flotilla.images.ImageReference;
import dev.flotilla.images.oci.OciJson;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Image names to manifest digests: one small JSON file per reference in {@code refs/}, named by the
 * sha256 of the canonical reference (references can be longer than a file name may be). A ref is
 * written last in a pull, atomically, so it only ever points at blobs that are all in the store.
 */
public final class RefStore {
    /** What a ref file holds. {@code indexDigest} is null when the tag named a manifest directly. */
    public record Ref(String reference, String manifestDigest, String indexDigest, String pulledAt) {
        public ImageReference imageReference() {
            return ImageReference.parse(reference);
        }

        public Digest manifest() {
            return Digest.parse(manifestDigest);
        }

        public Optional<Digest> index() {
            return indexDigest == null ? Optional.empty() : Optional.of(Digest.parse(indexDigest));
        }
    }

    private final Path refsDir;
    private final Path tmpDir;

    public RefStore(Path refsDir, Path tmpDir) {
        this.refsDir = refsDir;
        this.tmpDir = tmpDir;
    }

    public void put(Ref ref) throws IOException {
        AtomicFiles.write(file(ref.reference()), OciJson.write(ref), tmpDir);
    }

    public Optional<Ref> get(ImageReference reference) throws IOException {
        Path file = file(reference.toString());
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        return Optional.of(read(file));
    }

    public boolean remove(ImageReference reference) throws IOException {
        boolean removed = Files.deleteIfExists(file(reference.toString()));
        if (removed) {
            AtomicFiles.syncDirectory(refsDir);
        }
        return removed;
    }

    /** All refs, sorted by reference. */
    public List<Ref> list() throws IOException {
        List<Ref> refs = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(refsDir, "*.json")) {
            for (Path file : files) {
                refs.add(read(file));
            }
        }
        refs.sort((a, b) -> a.reference().compareTo(b.reference()));
        return refs;
    }

    private static Ref read(Path file) throws IOException {
        return OciJson.read(Files.readAllBytes(file), Ref.class, "image ref " + file);
    }

    private Path file(String reference) {
        return refsDir.resolve(Digest.sha256(reference.getBytes(StandardCharsets.UTF_8)).hex() + ".json");
    }
}
