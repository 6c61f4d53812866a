package dev.flotilla.node.network;

import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.SandboxRecord.NetAttachment;
import org.jboss.logging.Logger;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The node's sandbox network: Linux bridges, one tap per sandbox VM enslaved to one of them, addresses from an
 * {@link AddressPool}. A bridge takes at most 1,023 ports (the kernel's port numbers are 10 bits), so the pool is cut
 * into one subnet per bridge ({@code bridge-prefix-length}, /22 by default: 1,021 sandboxes): the first bridge is
 * named as configured, the next ones {@code <bridge>-1}, {@code <bridge>-2}, … each made when a sandbox first gets an
 * address of its subnet, with that subnet's first address (the sandboxes' gateway). Traffic between bridges is routed
 * by the host.
 *
 * <p>Isolation, all in the kernel so it holds whatever the guest does: bridge ports are {@code isolated} (isolated
 * ports forward only to non-isolated ones, i.e. the bridge itself, never to each other) unless sandbox-to-sandbox
 * traffic is allowed; an nftables table {@code inet flotilla_<bridge>} drops traffic routed from one of our bridges to
 * one of our bridges (another subnet, or back through the gateway into the same one) unless that is allowed, drops
 * traffic from the bridges to the agent's own API port unless allowed, and masquerades the pool's traffic leaving
 * through other interfaces when NAT is on. Everything is named so that a restarted agent finds and removes
 * leftovers: taps of sandboxes that are gone are deleted by name.
 */
public final class SandboxNetwork {
    private static final Logger LOG = Logger.getLogger(SandboxNetwork.class);
    /** nftables table of this agent: "flotilla_" + bridge name, so two agents on two bridges never touch each other's rules. */
    private final String nftTable;
    /** Taps are "flt" + 8 hex digits of the address offset: unique per address, at most 15 characters. */
    static final String TAP_PREFIX = "flt";
    /** Linux interface names hold at most 15 bytes (IFNAMSIZ − 1). */
    private static final int MAX_NAME = 15;

    private final NodeConfig.Network config;
    private final AddressPool pool;
    private final int apiPort;
    /** Subnets whose bridge is up, with its address and in the nftables rules; guarded by this. */
    private final java.util.TreeSet<Integer> bridgesUp = new java.util.TreeSet<>();

    public SandboxNetwork(NodeConfig.Network config, int apiPort) {
        int prefix = config.bridgePrefixLength();
        if (prefix < 22 || prefix > 30) {
            throw new IllegalArgumentException("flotilla.node.network.bridge-prefix-length=" + prefix
                    + ": must be 22 to 30 (a Linux bridge takes at most 1,023 ports; /22 gives 1,021 sandboxes)");
        }
        this.config = config;
        this.pool = new AddressPool(config.pool(), prefix);
        this.apiPort = apiPort;
        this.nftTable = "flotilla_" + config.bridge().replaceAll("[^A-Za-z0-9_]", "_");
        String last = bridgeName(pool.subnets() - 1);
        if (last.length() > MAX_NAME) {
            throw new IllegalArgumentException("bridge name " + config.bridge() + " is too long for a pool of " + pool.subnets()
                    + " subnets: its last bridge would be " + last + ", and interface names hold at most " + MAX_NAME
                    + " characters (shorten flotilla.node.network.bridge or raise bridge-prefix-length)");
        }
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

    /** The bridge of subnet {@code index}: the configured name for the first, then {@code <bridge>-<index>}. */
    public String bridgeName(int index) {
        return index == 0 ? config.bridge() : config.bridge() + "-" + index;
    }

    /** The bridges that are up, first subnet first. */
    public synchronized List<String> bridges() {
        return bridgesUp.stream().map(this::bridgeName).toList();
    }

    /** Creates (or adopts) the first bridge and installs the nftables rules. Idempotent. */
    public synchronized void setUp() {
        if (!config.enabled() || bridgesUp.contains(0)) {
            return;
        }
        bridgeUp(0);
        LOG.infof("sandbox network: bridge %s at %s/%d, pool %s in /%d subnets (%d bridges at most), sandbox-to-sandbox %s, "
                        + "node API from sandboxes %s, NAT %s",
                config.bridge(), pool.gateway(), pool.prefixLength(), pool.cidr(), pool.prefixLength(), pool.subnets(),
                config.allowSandboxToSandbox() ? "allowed" : "blocked", config.allowNodeApi() ? "allowed" : "blocked",
                config.nat() ? "on" : "off");
    }

    /** Makes subnet {@code index}'s bridge exist, with its gateway address, up and in the rules. */
    private synchronized void bridgeUp(int index) {
        if (bridgesUp.contains(index)) {
            return;
        }
        String bridge = bridgeName(index);
        if (!Files.exists(Path.of("/sys/class/net", bridge))) {
            HostCommand.check(List.of("ip", "link", "add", bridge, "type", "bridge"));
        }
        String address = pool.gatewayOfSubnet(index) + "/" + pool.prefixLength();
        String shown = HostCommand.check(List.of("ip", "-4", "addr", "show", "dev", bridge));
        var stale = java.util.regex.Pattern.compile(" inet ([0-9.]+)/(\\d+) ").matcher(shown);
        while (stale.find()) {
            // An address of the pool with another prefix (the pool or subnet size changed since it was made) would
            // keep routing part of the pool to this bridge.
            String other = stale.group(1) + "/" + stale.group(2);
            if (!other.equals(address) && pool.contains(stale.group(1))) {
                HostCommand.check(List.of("ip", "addr", "del", other, "dev", bridge));
            }
        }
        if (!shown.contains(" " + address + " ")) {
            HostCommand.check(List.of("ip", "addr", "add", address, "dev", bridge));
        }
        HostCommand.check(List.of("ip", "link", "set", bridge, "up"));
        bridgesUp.add(index);
        installRules();
        if (index > 0) {
            LOG.infof("sandbox network: bridge %s at %s for the pool's subnet %s", bridge, address, pool.subnetCidr(index));
        }
    }

    private void installRules() {
        String bridges = bridgesUp.stream().map(i -> '"' + bridgeName(i) + '"')
                .collect(java.util.stream.Collectors.joining(", ", "{ ", " }"));
        StringBuilder rules = new StringBuilder();
        // Declaring then deleting makes the script work whether or not the table exists; the new one replaces it atomically.
        rules.append("table inet ").append(nftTable).append(" {}\n");
        rules.append("delete table inet ").append(nftTable).append('\n');
        rules.append("table inet ").append(nftTable).append(" {\n");
        rules.append("  chain input {\n    type filter hook input priority 0; policy accept;\n");
        if (!config.allowNodeApi()) {
            rules.append("    iifname ").append(bridges).append(" tcp dport ").append(apiPort).append(" drop\n");
        }
        rules.append("  }\n");
        if (!config.allowSandboxToSandbox()) {
            rules.append("  chain forward {\n    type filter hook forward priority 0; policy accept;\n");
            rules.append("    iifname ").append(bridges).append(" oifname ").append(bridges).append(" drop\n  }\n");
        }
        if (config.nat()) {
            rules.append("  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n");
            rules.append("    ip saddr ").append(pool.cidr()).append(" oifname != ").append(bridges)
                    .append(" masquerade\n  }\n");
        }
        rules.append("}\n");
        HostCommand.check(List.of("nft", "-f", "-"), rules.toString());
        if (config.nat() || config.allowSandboxToSandbox() && bridgesUp.size() > 1) {
            HostCommand.check(List.of("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"));
        }
    }

    /** A tap on its subnet's bridge with a fresh address; the caller passes {@code tap} to the VM's virtio-net device. */
    public NetAttachment attach() {
        setUp();
        String address = pool.allocate();
        String tap = tapName(address);
        int subnet = pool.subnetOf(address);
        try {
            bridgeUp(subnet);
            if (Files.exists(Path.of("/sys/class/net", tap))) {
                HostCommand.run(List.of("ip", "link", "del", tap), null); // a leftover of a crash
            }
            HostCommand.check(List.of("ip", "tuntap", "add", "dev", tap, "mode", "tap"));
            HostCommand.check(List.of("ip", "link", "set", "dev", tap, "master", bridgeName(subnet)));
            if (!config.allowSandboxToSandbox()) {
                HostCommand.check(List.of("bridge", "link", "set", "dev", tap, "isolated", "on"));
            }
            HostCommand.check(List.of("ip", "link", "set", "dev", tap, "up"));
        } catch (RuntimeException e) {
            HostCommand.run(List.of("ip", "link", "del", tap), null);
            pool.release(address);
            throw e;
        }
        return new NetAttachment(tap, address, pool.prefixLength(), pool.gatewayOf(address), macFor(address));
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
     * ours that are ports of our bridges, or not on any bridge with an address of our pool in their name (a crash
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
                return isOurBridge(Files.readSymbolicLink(master).getFileName().toString());
            } catch (java.io.IOException e) {
                return false; // gone meanwhile, or unreadable: not ours to judge
            }
        }
        String address = addressOf(tap);
        return address != null && pool.contains(address);
    }

    private boolean isOurBridge(String name) {
        if (name.equals(config.bridge())) {
            return true;
        }
        String prefix = config.bridge() + "-";
        if (!name.startsWith(prefix) || !name.substring(prefix.length()).matches("[1-9][0-9]{0,5}")) {
            return false;
        }
        return Integer.parseInt(name.substring(prefix.length())) < pool.subnets();
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
