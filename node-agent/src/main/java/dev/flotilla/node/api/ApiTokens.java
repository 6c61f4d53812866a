package dev.flotilla.node.api;

import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.state.AtomicFiles;
import jakarta.annotation.PostConstruct;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;

/**
 * The bearer tokens the API accepts: the configured ones, or one generated into {@code <state-dir>/api-token}
 * at the first start (so that a node is never open by default).
 */
@Singleton
public class ApiTokens {
    public static final String TOKEN_FILE = "api-token";

    @Inject
    NodeConfig config;

    private List<byte[]> accepted;
    private String primary;

    @PostConstruct
    void load() {
        List<String> configured = config.auth().tokens().orElse(List.of()).stream().map(String::strip)
                .filter(t -> !t.isEmpty()).toList();
        if (configured.isEmpty()) {
            Path file = Path.of(config.stateDir(), TOKEN_FILE);
            try {
                if (!Files.exists(file)) {
                    byte[] random = new byte[32];
                    new SecureRandom().nextBytes(random);
                    AtomicFiles.writeSecret(file, HexFormat.of().formatHex(random));
                }
                configured = List.of(Files.readString(file, StandardCharsets.UTF_8).strip());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read or create the API token file " + file + ": " + e.getMessage(), e);
            }
        }
        primary = configured.getFirst();
        accepted = configured.stream().map(t -> t.getBytes(StandardCharsets.UTF_8)).toList();
    }

    /** Constant-time comparison against every accepted token. */
    public boolean accepts(String token) {
        if (token == null || token.isEmpty()) {
            return false;
        }
        byte[] given = token.getBytes(StandardCharsets.UTF_8);
        boolean ok = false;
        for (byte[] t : accepted) {
            ok |= MessageDigest.isEqual(t, given);
        }
        return ok;
    }

    /** The token handed to the control plane at registration (it calls the /v1 API with it). */
    public String primary() {
        return primary;
    }
}
