package dev.flotilla.controlplane.auth;

import dev.flotilla.controlplane.config.FlotillaConfig;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Resolves bearer tokens to callers. User and join tokens come from configuration (or are generated once into
 * the data directory); node tokens are issued at registration and stored only as SHA-256 hashes.
 */
@Singleton
public class Tokens {
    private static final Logger LOG = Logger.getLogger(Tokens.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    @Inject
    FlotillaConfig config;
    @Inject
    AgroalDataSource dataSource;

    private final Map<String, Caller> userTokens = new HashMap<>();
    /** Node token hash → node id, filled lazily from the database (other replicas register nodes too). */
    private final Map<String, UUID> nodeTokenHashes = new ConcurrentHashMap<>();

    void onStart(@Observes StartupEvent event) {
        Path dataDirectory = Path.of(config.dataDir());
        List<String> admin = config.auth().adminTokens().orElseGet(() -> List.of(generatedToken(dataDirectory, "admin-token")));
        for (String token : admin) {
            userTokens.put(token, new Caller("admin", EnumSet.of(Scope.READ, Scope.WRITE), null));
        }
        for (String token : config.auth().readOnlyTokens().orElse(List.of())) {
            userTokens.put(token, new Caller("read-only", EnumSet.of(Scope.READ), null));
        }
        String join = config.auth().joinToken().orElseGet(() -> generatedToken(dataDirectory, "join-token"));
        userTokens.put(join, new Caller("join", EnumSet.of(Scope.NODE_REGISTER), null));
    }

    /** The caller a token stands for, if any. May query the database for node tokens (blocking). */
    public Optional<Caller> resolve(String token) {
        Caller user = userTokens.get(token);
        if (user != null) {
            return Optional.of(user);
        }
        String hash = hash(token);
        UUID nodeId = nodeTokenHashes.get(hash);
        if (nodeId == null) {
            nodeId = lookupNode(hash);
            if (nodeId == null) {
                return Optional.empty();
            }
            nodeTokenHashes.put(hash, nodeId);
        }
        return Optional.of(new Caller("node:" + nodeId, Set.of(Scope.NODE), nodeId, hash));
    }

    /** A fresh random token for a node; only its hash is kept. */
    public static String newToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /**
     * Called when a node re-registers or a stale token is seen. The cache is only a fast path: the node's
     * row decides whether a token is current (see {@code NodeService.heartbeat}), so a lookup racing with a
     * re-registration, or another replica's cache, cannot keep an old token alive.
     */
    public void forgetNode(UUID nodeId) {
        nodeTokenHashes.values().removeIf(nodeId::equals);
    }

    /** Drops one cached token hash (it no longer matches its node's row). */
    public void forgetToken(String tokenHash) {
        nodeTokenHashes.remove(tokenHash);
    }

    public static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private UUID lookupNode(String hash) {
        try (Connection connection = dataSource.getConnection();
             PreparedStatement statement = connection.prepareStatement("SELECT id FROM node WHERE token_hash = ?")) {
            statement.setString(1, hash);
            try (ResultSet rows = statement.executeQuery()) {
                return rows.next() ? rows.getObject(1, UUID.class) : null;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("looking up a node token failed: " + e.getMessage(), e);
        }
    }

    /** Reads {@code <data dir>/name}, creating it (mode 600) with a random token on first use. */
    private static String generatedToken(Path dataDirectory, String name) {
        Path file = dataDirectory.resolve(name);
        try {
            if (Files.exists(file)) {
                return Files.readString(file).trim();
            }
            Files.createDirectories(dataDirectory);
            String token = newToken();
            Files.writeString(file, token + "\n");
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            LOG.infof("generated %s into %s", name, file);
            return token;
        } catch (IOException e) {
            throw new UncheckedIOException("could not read or create the " + name + " file " + file, e);
        }
    }
}
