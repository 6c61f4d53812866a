package dev.flotilla.node.network;

import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import org.jboss.logging.Logger;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The node's sandbox network: one Linux bridge with the pool's first address (the sandboxes' gateway), one
 * tap per sandbox VM enslaved to it, addresses from an {@link AddressPool}.
 *
 * <p>Isolation, all in the kernel so it holds whatever the guest does: bridge ports are {@code isolated}
 * (isolated ports forward only to non-isolated ones, i.e. the bridge itself, never to each other) unless
 * sandbox-to-sandbox traffic is allowed; an nftables table {@code inet flotilla_<bridge>} drops traffic from the bridge
 * to the agent's own API port unless allowed, and masquerades the pool's traffic leaving through other
 * interfaces when NAT is on. Everything is named so that a restarted agent finds and removes leftovers: taps of
 * sandboxes that are gone are deleted by name.
 */
public final class SandboxNetwork {
    private static final Logger LOG = Logger.getLogger(SandboxNetwork.class);
    /** nftables table of this agent: "flotilla_" + bridge name, so two agents on two bridges never touch each other's rules. */
    private final String nftTable;
    /** Taps are "flt" + 8 hex digits of the address offset: unique per address, at most 15 characters. */
    static final String TAP_PREFIX = "flt";

    private final NodeConfig.Network config;
    private final AddressPool pool;
    private final int apiPort;
    private boolean ready;

    public SandboxNetwork(NodeConfig.Network config, int apiPort) {
        this.config = config;
        this.pool = new AddressPool(config.pool());
        this.apiPort = apiPort;
        this.nftTable = "flotilla_" + config.bridge().replaceAll("[^A-Za-z0-9_]", "_");
    }

    public String nftTable() {
        return nftTable;
    }

    public boolean enabled() {
        return config.enabled();
    }

    public AddressPool pool() {
        return pool;
    }

    /** Creates (or adopts) the bridge and installs the nftables rules. Idempotent. */
    public synchronized void setUp() {
        if (!config.enabled() || ready) {
            return;
        }
        String bridge = config.bridge();
        if (!Files.exists(Path.of("/sys/class/net", bridge))) {
            HostCommand.check(List.of("ip", "link", "add", bridge, "type", "bridge"));
        }
        String address = pool.gateway() + "/" + pool.prefixLength();
        String shown = HostCommand.check(List.of("ip", "-4", "addr", "show", "dev", bridge));
        if (!shown.contains(" " + address + " ")) {
            HostCommand.check(List.of("ip", "addr", "add", address, "dev", bridge));
        }
        HostCommand.check(List.of("ip", "link", "set", bridge, "up"));
        installRules();
        ready = true;
        LOG.infof("sandbox network: bridge %s at %s, pool %s, sandbox-to-sandbox %s, node API from sandboxes %s, NAT %s",
                bridge, address, pool.cidr(), config.allowSandboxToSandbox() ? "allowed" : "blocked",
                config.allowNodeApi() ? "allowed" : "blocked", config.nat() ? "on" : "off");
    }

    private void installRules() {
        StringBuilder rules = new StringBuilder();
        // Declaring then deleting makes the script work whether or not the table exists; the new one replaces it atomically.
        rules.append("table inet ").append(nftTable).append(" {}\n");
        rules.append("delete table inet ").append(nftTable).append('\n');
        rules.append("table inet ").append(nftTable).append(" {\n");
        rules.append("  chain input {\n    type filter hook input priority 0; policy accept;\n");
        if (!config.allowNodeApi()) {
            rules.append("    iifname \"").append(config.bridge()).append("\" tcp dport ").append(apiPort).append(" drop\n");
        }
        rules.append("  }\n");
        if (config.nat()) {
            rules.append("  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n");
            rules.append("    ip saddr ").append(pool.cidr()).append(" oifname != \"").append(config.bridge())
                    .append("\" masquerade\n  }\n");
        }
        rules.append("}\n");
        HostCommand.check(List.of("nft", "-f", "-"), rules.toString());
        if (config.nat()) {
            HostCommand.check(List.of("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"));
        }
    }

    /** A tap on the bridge with a fresh address; the caller passes {@code tap} to the VM's virtio-net device. */
    public NetAttachment attach() {
        setUp();
        String address = pool.allocate();
        String tap = tapName(address);
        try {
            if (Files.exists(Path.of("/sys/class/net", tap))) {
                HostCommand.run(List.of("ip", "link", "del", tap), null); // a leftover of a crash
            }
            HostCommand.check(List.of("ip", "tuntap", "add", "dev", tap, "mode", "tap"));
            HostCommand.check(List.of("ip", "link", "set", "dev", tap, "master", config.bridge()));
            if (!config.allowSandboxToSandbox()) {
                HostCommand.check(List.of("bridge", "link", "set", "dev", tap, "isolated", "on"));
            }
            HostCommand.check(List.of("ip", "link", "set", "dev", tap, "up"));
        } catch (RuntimeException e) {
            HostCommand.run(List.of("ip", "link", "del", tap), null);
            pool.release(address);
            throw e;
        }
        return new NetAttachment(tap, address, pool.prefixLength(), pool.gateway(), macFor(address));
    }

    /**
     * Ties a microVM's tap to a CNI pod network, as Kata does: the tap (already opened by the VM) moves into the
     * pod's namespace and tc mirred redirects every frame between it and the CNI interface {@code eth0}, both ways.
     * The VM's NIC carries eth0's MAC and address, so to the pod network the VM is that interface.
     */
    public static void joinPodNamespace(String tap, String netns) {
        HostCommand.check(List.of("ip", "link", "set", "dev", tap, "netns", netns));
        String mtu = linkMtu(netns, "eth0");
        HostCommand.check(List.of("ip", "-n", netns, "link", "set", "dev", tap, "mtu", mtu, "up"));
        for (String[] pair : new String[][] {{"eth0", tap}, {tap, "eth0"}}) {
            HostCommand.check(List.of("tc", "-n", netns, "qdisc", "add", "dev", pair[0], "ingress"));
            HostCommand.check(List.of("tc", "-n", netns, "filter", "add", "dev", pair[0], "parent", "ffff:", "protocol",
                    "all", "u32", "match", "u8", "0", "0", "action", "mirred", "egress", "redirect", "dev", pair[1]));
        }
    }

    private static String linkMtu(String netns, String link) {
        String shown = HostCommand.check(List.of("ip", "-n", netns, "-o", "link", "show", "dev", link));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(" mtu (\\d+)").matcher(shown);
        return m.find() ? m.group(1) : "1500";
    }

    /** Removes the tap and frees the address; tolerates a tap that is already gone. */
    public void detach(NetAttachment attachment) {
        if (attachment == null) {
            return;
        }
        if (Files.exists(Path.of("/sys/class/net", attachment.tap()))) {
            HostCommand.Result r = HostCommand.run(List.of("ip", "link", "del", attachment.tap()), null);
            if (r.exitCode() != 0) {
                LOG.warnf("could not remove tap %s: %s", attachment.tap(), r.output());
            }
        }
        pool.release(attachment.address());
    }

    /**
     * Taps of this agent that no live sandbox owns (left by a crashed agent): removed. Ours are the taps named like
     * ours that are ports of our bridge, or not on any bridge with an address of our pool in their name (a crash
     * between creating and enslaving one); another agent's taps on another bridge of the same host are left alone.
     */
    public List<String> removeOrphanTaps(java.util.Set<String> owned) {
        List<String> removed = new ArrayList<>();
        try (var links = Files.list(Path.of("/sys/class/net"))) {
            for (Path link : links.toList()) {
                String name = link.getFileName().toString();
                if (name.startsWith(TAP_PREFIX) && name.length() == TAP_PREFIX.length() + 8 && !owned.contains(name)
                        && ours(link, name)) {
                    if (HostCommand.run(List.of("ip", "link", "del", name), null).exitCode() == 0) {
                        removed.add(name);
                    }
                }
            }
        } catch (java.io.IOException e) {
            LOG.warnf("cannot list network interfaces to remove leftover taps: %s", e.getMessage());
        }
        return removed;
    }

    private boolean ours(Path link, String tap) {
        Path master = link.resolve("master");
        if (Files.isSymbolicLink(master)) {
            try {
                return Files.readSymbolicLink(master).getFileName().toString().equals(config.bridge());
            } catch (java.io.IOException e) {
                return false; // gone meanwhile, or unreadable: not ours to judge
            }
        }
        String address = addressOf(tap);
        return address != null && pool.contains(address);
    }

    /** The address a tap name encodes ({@link #tapName}), or null when it is not hex. */
    static String addressOf(String tap) {
        String hex = tap.substring(TAP_PREFIX.length());
        if (!hex.matches("[0-9a-f]{8}")) {
            return null;
        }
        long v = Long.parseLong(hex, 16);
        return (v >>> 24) + "." + (v >>> 16 & 0xFF) + "." + (v >>> 8 & 0xFF) + "." + (v & 0xFF);
    }

    static String tapName(String address) {
        String[] o = address.split("\\.");
        return TAP_PREFIX + String.format("%02x%02x%02x%02x", Integer.parseInt(o[0]), Integer.parseInt(o[1]),
                Integer.parseInt(o[2]), Integer.parseInt(o[3]));
    }

    /** Locally administered unicast MAC derived from the address, so it is stable and unique on the bridge. */
    static String macFor(String address) {
        String[] o = address.split("\\.");
        return String.format("02:46:4c:%02x:%02x:%02x", Integer.parseInt(o[1]), Integer.parseInt(o[2]), Integer.parseInt(o[3]));
    }
}
