package dev.flotilla.node.cri.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.node.network.HostCommand;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A node's CNI network for pod sandboxes, run the way the CNI specification (1.0) has runtimes run it: the first
 * configuration file in {@code confDir} in lexical order (a {@code .conflist}, or a single-plugin {@code .conf} /
 * {@code .json}), each plugin executed from {@code binDirs} with the {@code CNI_*} environment and its configuration
 * (plus {@code name}, {@code cniVersion} and the previous plugin's {@code prevResult}) on stdin. ADD creates the
 * pod's network namespace ({@code ip netns}, so {@code /var/run/netns/<name>}) and returns the addresses the plugins
 * gave its {@code eth0}; DEL runs the plugins in reverse order with the ADD result and removes the namespace.
 *
 * <p>The microVM is wired to that namespace by the caller (its tap moved in and joined to {@code eth0} with tc
 * redirect, as Kata does): this class only speaks CNI.
 */
public final class CniNetwork {
    /** The interface CNI plugins create in the pod's namespace. */
    public static final String IFNAME = "eth0";
    private static final long MAX_OUTPUT = 1 << 20;
    private static final long PLUGIN_TIMEOUT_SECONDS = 120;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path confDir;
    private final List<Path> binDirs;

    /** Which pod a namespace belongs to: passed to the plugins in CNI_ARGS, as the kubelet's runtimes do. */
    public record PodRef(String sandboxId, String namespace, String name, String uid) {
    }

    /**
     * A pod's network as ADD left it.
     *
     * @param netns   the namespace's name ({@code ip netns}); its path is {@code /var/run/netns/<netns>}
     * @param address the first IPv4 address given to {@code eth0}, with its prefix length (10.88.0.5/16)
     * @param gateway that address's gateway, or null
     * @param mac     {@code eth0}'s MAC address in the namespace
     * @param result  the final plugin's result (kept for DEL)
     * @param network the configuration's name
     */
    public record Attachment(String netns, String address, String gateway, String mac, String result, String network) {
        public String ip() {
            return address.substring(0, address.indexOf('/'));
        }

        public int prefixLength() {
            return Integer.parseInt(address.substring(address.indexOf('/') + 1));
        }

        public String netnsPath() {
            return "/var/run/netns/" + netns;
        }
    }

    public CniNetwork(Path confDir, List<Path> binDirs) {
        this.confDir = confDir;
        this.binDirs = List.copyOf(binDirs);
    }

    /** The namespace name of a pod sandbox (the CRI's 64-digit ids are longer than needed). */
    public static String netnsName(String sandboxId) {
        return "flotilla-" + sandboxId.substring(0, Math.min(16, sandboxId.length()));
    }

    /** Creates the pod's network namespace and runs ADD; on failure nothing is left behind. */
    public Attachment add(PodRef pod) {
        Config config = config();
        String netns = netnsName(pod.sandboxId());
        HostCommand.run(List.of("ip", "netns", "del", netns), null); // a leftover of a crash
        HostCommand.check(List.of("ip", "netns", "add", netns));
        JsonNode previous = null;
        List<ObjectNode> done = new ArrayList<>();
        try {
            for (ObjectNode plugin : config.plugins()) {
                ObjectNode conf = withListFields(plugin, config, previous);
                previous = run("ADD", conf, netns, pod);
                done.add(plugin);
            }
            if (previous == null) {
                throw new CniException("CNI network " + config.name() + " (" + config.file() + ") returned no result");
            }
            return attachment(netns, config, previous);
        } catch (RuntimeException e) {
            // Undo what ran, newest first, then the namespace: a failed ADD leaves no address taken.
            for (int i = done.size() - 1; i >= 0; i--) {
                try {
                    run("DEL", withListFields(done.get(i), config, previous), netns, pod);
                } catch (RuntimeException ignored) {
                    // the ADD failure is what the caller needs to hear
                }
            }
            HostCommand.run(List.of("ip", "netns", "del", netns), null);
            throw e;
        }
    }

    /** Runs DEL (plugins in reverse order, with the ADD result) and removes the namespace. */
    public void del(Attachment attachment, PodRef pod) {
        Config config = config();
        JsonNode result;
        try {
            result = JSON.readTree(attachment.result());
        } catch (IOException e) {
            result = null;
        }
        List<ObjectNode> plugins = new ArrayList<>(config.plugins());
        java.util.Collections.reverse(plugins);
        CniException first = null;
        for (ObjectNode plugin : plugins) {
            try {
                run("DEL", withListFields(plugin, config, result), attachment.netns(), pod);
            } catch (CniException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        HostCommand.run(List.of("ip", "netns", "del", attachment.netns()), null);
        if (first != null) {
            throw first;
        }
    }

    private record Config(Path file, String name, String cniVersion, List<ObjectNode> plugins) {
    }

    private Config config() {
        List<Path> files;
        try (Stream<Path> list = Files.list(confDir)) {
            files = list.filter(f -> {
                String n = f.getFileName().toString();
                return Files.isRegularFile(f) && (n.endsWith(".conflist") || n.endsWith(".conf") || n.endsWith(".json"));
            }).sorted().toList();
        } catch (IOException e) {
            throw new CniException("the CNI configuration directory " + confDir + " cannot be read: " + e.getMessage());
        }
        if (files.isEmpty()) {
            throw new CniException("no CNI network configuration in " + confDir);
        }
        Path file = files.getFirst();
        JsonNode root;
        try {
            if (Files.size(file) > MAX_OUTPUT) {
                throw new CniException("CNI configuration " + file + " is larger than 1 MiB");
            }
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CniException("CNI configuration " + file + " is not JSON: " + e.getMessage());
        }
        String name = root.path("name").asText("");
        String version = root.path("cniVersion").asText("");
        if (name.isEmpty() || version.isEmpty()) {
            throw new CniException("CNI configuration " + file + " lacks \"name\" or \"cniVersion\"");
        }
        List<ObjectNode> plugins = new ArrayList<>();
        if (root.has("plugins")) {
            for (JsonNode plugin : root.path("plugins")) {
                if (!(plugin instanceof ObjectNode object) || plugin.path("type").asText("").isEmpty()) {
                    throw new CniException("CNI configuration " + file + " has a plugin without a \"type\"");
                }
                plugins.add(object);
            }
        } else if (root instanceof ObjectNode single && !root.path("type").asText("").isEmpty()) {
            plugins.add(single);
        }
        if (plugins.isEmpty()) {
            throw new CniException("CNI configuration " + file + " names no plugin");
        }
        return new Config(file, name, version, plugins);
    }

    private static ObjectNode withListFields(ObjectNode plugin, Config config, JsonNode previous) {
        ObjectNode conf = plugin.deepCopy();
        conf.put("name", config.name());
        conf.put("cniVersion", config.cniVersion());
        if (previous != null && !previous.isEmpty()) {
            conf.set("prevResult", previous);
        }
        return conf;
    }

    /** One plugin call; the parsed result for ADD, null for DEL. */
    private JsonNode run(String command, ObjectNode conf, String netns, PodRef pod) {
        String type = conf.path("type").asText();
        if (type.contains("/")) {
            throw new CniException("CNI plugin type '" + type + "' is not a plugin name");
        }
        Path binary = binDirs.stream().map(d -> d.resolve(type)).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new CniException("CNI plugin " + type + " is not installed in " + binDirs
                        + " (Debian: containernetworking-plugins)"));
        ProcessBuilder builder = new ProcessBuilder(binary.toString());
        var env = builder.environment();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", pod.sandboxId());
        env.put("CNI_NETNS", "/var/run/netns/" + netns);
        env.put("CNI_IFNAME", IFNAME);
        env.put("CNI_PATH", binDirs.stream().map(Path::toString).collect(Collectors.joining(":")));
        env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.namespace() + ";K8S_POD_NAME=" + pod.name()
                + ";K8S_POD_INFRA_CONTAINER_ID=" + pod.sandboxId() + ";K8S_POD_UID=" + pod.uid());
        String what = "CNI plugin " + type + " " + command + " for pod " + pod.namespace() + "/" + pod.name();
        try {
            Process process = builder.start();
            try (OutputStream in = process.getOutputStream()) {
                in.write(JSON.writeValueAsBytes(conf));
            }
            byte[][] stderr = new byte[1][];
            Thread errors = Thread.ofVirtual().start(() -> stderr[0] = readLimited(process.getErrorStream()));
            byte[] out = readLimited(process.getInputStream());
            if (!process.waitFor(PLUGIN_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new CniException(what + " did not finish within " + PLUGIN_TIMEOUT_SECONDS + " s");
            }
            errors.join();
            if (process.exitValue() != 0) {
                throw new CniException(what + " failed: " + pluginError(out, stderr[0]));
            }
            if (!command.equals("ADD")) {
                return null;
            }
            return JSON.readTree(out);
        } catch (IOException e) {
            throw new CniException(what + " could not run: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CniException(what + " was interrupted");
        }
    }

    private static String pluginError(byte[] stdout, byte[] stderr) {
        try {
            JsonNode error = JSON.readTree(stdout);
            String text = "code " + error.path("code").asInt() + ": " + error.path("msg").asText("");
            String details = error.path("details").asText("");
            return details.isEmpty() ? text : text + " (" + details + ")";
        } catch (IOException | RuntimeException e) {
            String text = new String(stdout, StandardCharsets.UTF_8).strip() + " "
                    + (stderr == null ? "" : new String(stderr, StandardCharsets.UTF_8).strip());
            return text.isBlank() ? "no error message" : text.strip();
        }
    }

    private Attachment attachment(String netns, Config config, JsonNode result) {
        String address = null;
        String gateway = null;
        for (JsonNode ip : result.path("ips")) {
            String a = ip.path("address").asText("");
            if (a.contains(".") && a.contains("/")) {
                address = a;
                gateway = ip.path("gateway").isTextual() ? ip.path("gateway").asText() : null;
                break;
            }
        }
        if (address == null) {
            throw new CniException("CNI network " + config.name() + " gave the pod no IPv4 address (result: " + result + ")");
        }
        String mac = null;
        for (JsonNode iface : result.path("interfaces")) {
            if (IFNAME.equals(iface.path("name").asText()) && !iface.path("sandbox").asText("").isEmpty()) {
                mac = iface.path("mac").asText(null);
            }
        }
        if (mac == null) {
            mac = linkMac(netns);
        }
        return new Attachment(netns, address, gateway, mac, result.toString(), config.name());
    }

    /** eth0's MAC address as the namespace has it ({@code ip -j link show}). */
    private static String linkMac(String netns) {
        String shown = HostCommand.check(List.of("ip", "-n", netns, "-j", "link", "show", IFNAME));
        try {
            JsonNode links = JSON.readTree(shown);
            Optional<String> mac = links instanceof ArrayNode array && !array.isEmpty()
                    ? Optional.ofNullable(array.get(0).path("address").asText(null)) : Optional.empty();
            return mac.orElseThrow(() -> new CniException("eth0 in network namespace " + netns + " has no MAC address"));
        } catch (IOException e) {
            throw new CniException("cannot read eth0 of network namespace " + netns + ": " + e.getMessage());
        }
    }

    private static byte[] readLimited(InputStream in) {
        try (in) {
            byte[] bytes = in.readNBytes((int) MAX_OUTPUT);
            in.transferTo(OutputStream.nullOutputStream());
            return bytes;
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
