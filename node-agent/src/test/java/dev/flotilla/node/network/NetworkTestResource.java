package dev.flotilla.node.network;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

/** Networking on, on a bridge and pool of its own; removes the bridge and its nftables table afterwards. */
public class NetworkTestResource implements QuarkusTestResourceLifecycleManager {
    static final String BRIDGE = "fltest0";
    static final String POOL = "10.219.0.0/24";

    @Override
    public Map<String, String> start() {
        try {
            return Map.of("flotilla.node.network.enabled", "true", "flotilla.node.network.bridge", BRIDGE,
                    "flotilla.node.network.pool", POOL,
                    "flotilla.node.state-dir", Files.createTempDirectory("flotilla-node-net-test-").toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        HostCommand.run(List.of("ip", "link", "del", BRIDGE), null);
        HostCommand.run(List.of("nft", "delete", "table", "inet", "flotilla_" + BRIDGE), null);
    }
}
