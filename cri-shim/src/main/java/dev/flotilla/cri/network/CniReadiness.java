package dev.flotilla.cri.network;

import dev.flotilla.cri.backend.RuntimeReadiness.Condition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The CRI NetworkReady condition: pods get networking from CNI, so the network is ready once the node has a CNI
 * network configuration whose plugins are installed. Like libcni, the first configuration file in lexical order
 * wins. Checked on every Status call (the kubelet polls every few seconds), so a configuration that a network
 * add-on drops in later turns the node ready without a restart.
 */
public final class CniReadiness {

    public static final String NOT_READY_REASON = "NetworkPluginNotReady";

    // Plugin names in a network configuration: every "type" member. Enough to check installation; the
    // configuration is executed by the CNI plugins themselves, not interpreted here.
    private static final Pattern PLUGIN_TYPE = Pattern.compile("\"type\"\\s*:\\s*\"([^\"\\\\]+)\"");
    private static final long MAX_CONFIG_BYTES = 1 << 20;

    private final Path confDir;
    private final List<Path> binDirs;

    public CniReadiness(Path confDir, List<Path> binDirs) {
        this.confDir = confDir;
        this.binDirs = List.copyOf(binDirs);
    }

    public Path confDir() {
        return confDir;
    }

    public List<Path> binDirs() {
        return binDirs;
    }

    public Condition check() {
        List<Path> configs;
        try (Stream<Path> files = Files.list(confDir)) {
            configs = files.filter(CniReadiness::isNetworkConfig).sorted().toList();
        } catch (IOException e) {
            return Condition.notReady(NOT_READY_REASON, "the CNI configuration directory " + confDir
                    + " cannot be read (" + e.getMessage() + "); install a CNI network configuration there");
        }
        if (configs.isEmpty()) {
            return Condition.notReady(NOT_READY_REASON, "no CNI network configuration (*.conflist, *.conf, *.json) in "
                    + confDir + "; install a pod network add-on or write a configuration there");
        }
        Path config = configs.getFirst();
        Set<String> plugins = new LinkedHashSet<>();
        try {
            if (Files.size(config) > MAX_CONFIG_BYTES) {
                return Condition.notReady(NOT_READY_REASON, "CNI configuration " + config + " is larger than 1 MiB");
            }
            Matcher m = PLUGIN_TYPE.matcher(Files.readString(config));
            while (m.find()) {
                plugins.add(m.group(1));
            }
        } catch (IOException e) {
            return Condition.notReady(NOT_READY_REASON, "CNI configuration " + config + " cannot be read ("
                    + e.getMessage() + ")");
        }
        if (plugins.isEmpty()) {
            return Condition.notReady(NOT_READY_REASON, "CNI configuration " + config + " names no plugin \"type\"");
        }
        List<String> missing = new ArrayList<>();
        for (String plugin : plugins) {
            if (plugin.contains("/") || binDirs.stream().noneMatch(dir -> Files.isExecutable(dir.resolve(plugin)))) {
                missing.add(plugin);
            }
        }
        if (!missing.isEmpty()) {
            return Condition.notReady(NOT_READY_REASON, "CNI configuration " + config + " uses plugins " + missing
                    + " that are not installed in " + binDirs + "; install them (Debian: containernetworking-plugins)");
        }
        return Condition.isReady();
    }

    private static boolean isNetworkConfig(Path file) {
        String name = file.getFileName().toString();
        return Files.isRegularFile(file)
                && (name.endsWith(".conflist") || name.endsWith(".conf") || name.endsWith(".json"));
    }
}
