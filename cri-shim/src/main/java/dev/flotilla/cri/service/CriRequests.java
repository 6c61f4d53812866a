package dev.flotilla.cri.service;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.v1.ContainerConfig;
import dev.flotilla.cri.v1.ImageSpec;
import dev.flotilla.cri.v1.KeyValue;
import dev.flotilla.cri.v1.PodSandboxConfig;
import dev.flotilla.cri.v1.PodSandboxMetadata;
import dev.flotilla.cri.v1.PortMapping;
import dev.flotilla.cri.v1.Protocol;

import java.net.InetAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Checks of CRI requests before any backend sees them. Every rejection is INVALID_ARGUMENT with a message naming
 * the field (by its CRI name) and what is wrong with it, so an operator can find the culprit in kubelet events.
 * Names and paths are checked strictly because they become file paths, VM names and guest arguments.
 */
final class CriRequests {

    /** Kubernetes object names and namespaces are at most 253 characters (DNS subdomains); uids are UUIDs. */
    private static final int MAX_NAME = 253;
    private static final int MAX_IMAGE_REFERENCE = 4096;
    private static final Pattern HOSTNAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,62})?");

    private CriRequests() {
    }

    static String sandboxId(String field, String id) {
        return id(field, id, "pod sandbox");
    }

    static String containerId(String field, String id) {
        return id(field, id, "container");
    }

    private static String id(String field, String id, String kind) {
        if (id.isEmpty()) {
            throw CriException.invalidArgument(field + " is required: name the " + kind + " by its id");
        }
        if (!CriIds.isValid(id)) {
            throw CriException.invalidArgument(field + " '" + printable(id) + "' is not a " + kind
                    + " id of this runtime (ids are 64 lower-case hex digits; crictl expands prefixes itself)");
        }
        return id;
    }

    /** Checks a sandbox configuration; returns the sandbox's unique name (kubelet style, with the attempt). */
    static String sandboxConfig(String field, PodSandboxConfig config, boolean present) {
        if (!present) {
            throw CriException.invalidArgument(field + " is required");
        }
        if (!config.hasMetadata()) {
            throw CriException.invalidArgument(field + ".metadata is required: it names the pod (name, namespace, uid)");
        }
        PodSandboxMetadata meta = config.getMetadata();
        name(field + ".metadata.name", meta.getName());
        name(field + ".metadata.namespace", meta.getNamespace());
        name(field + ".metadata.uid", meta.getUid());
        if (!config.getHostname().isEmpty() && !HOSTNAME.matcher(config.getHostname()).matches()) {
            throw CriException.invalidArgument(field + ".hostname '" + printable(config.getHostname())
                    + "' is not a host name (letters, digits, '.', '-'; at most 64 characters)");
        }
        if (!config.getLogDirectory().isEmpty()) {
            absolutePath(field + ".log_directory", config.getLogDirectory());
        }
        for (int i = 0; i < config.getPortMappingsCount(); i++) {
            portMapping(field + ".port_mappings[" + i + "]", config.getPortMappings(i));
        }
        return "k8s_POD_" + meta.getName() + "_" + meta.getNamespace() + "_" + meta.getUid() + "_" + meta.getAttempt();
    }

    /** Checks a container configuration; returns its name within the sandbox (name and attempt). */
    static String containerConfig(String field, ContainerConfig config, boolean present) {
        if (!present) {
            throw CriException.invalidArgument(field + " is required");
        }
        if (!config.hasMetadata()) {
            throw CriException.invalidArgument(field + ".metadata is required: it names the container");
        }
        name(field + ".metadata.name", config.getMetadata().getName());
        if (!config.hasImage()) {
            throw CriException.invalidArgument(field + ".image is required");
        }
        imageSpec(field + ".image", config.getImage(), true);
        for (int i = 0; i < config.getCommandCount(); i++) {
            noNul(field + ".command[" + i + "]", config.getCommand(i));
        }
        for (int i = 0; i < config.getArgsCount(); i++) {
            noNul(field + ".args[" + i + "]", config.getArgs(i));
        }
        for (int i = 0; i < config.getEnvsCount(); i++) {
            KeyValue env = config.getEnvs(i);
            if (env.getKey().isEmpty() || env.getKey().indexOf('=') >= 0) {
                throw CriException.invalidArgument(field + ".envs[" + i + "].key '" + printable(env.getKey())
                        + "' is not an environment variable name (non-empty, without '=')");
            }
            noNul(field + ".envs[" + i + "].key", env.getKey());
            noNul(field + ".envs[" + i + "].value", env.getValue());
        }
        if (!config.getWorkingDir().isEmpty()) {
            absolutePath(field + ".working_dir", config.getWorkingDir());
        }
        if (config.getStopSignalValue() < 0 || config.getStopSignal() == dev.flotilla.cri.v1.Signal.UNRECOGNIZED) {
            throw CriException.invalidArgument(field + ".stop_signal " + config.getStopSignalValue()
                    + " is not a signal this API defines");
        }
        return config.getMetadata().getName() + "_" + config.getMetadata().getAttempt();
    }

    /**
     * Resolves a container's log file: {@code log_path} (relative) inside the sandbox's {@code log_directory}.
     * Empty if no log path was asked for. A path leaving the directory is refused: the file is written by us.
     */
    static Optional<Path> containerLogPath(PodSandboxConfig sandbox, ContainerConfig container) {
        String relative = container.getLogPath();
        if (relative.isEmpty()) {
            return Optional.empty();
        }
        if (sandbox.getLogDirectory().isEmpty()) {
            throw CriException.invalidArgument("config.log_path '" + printable(relative)
                    + "' needs sandbox_config.log_directory, which is empty");
        }
        Path dir = absolutePath("sandbox_config.log_directory", sandbox.getLogDirectory());
        noNul("config.log_path", relative);
        Path rel;
        try {
            rel = Path.of(relative);
        } catch (InvalidPathException e) {
            throw CriException.invalidArgument("config.log_path '" + printable(relative) + "' is not a path");
        }
        Path resolved = dir.resolve(rel).normalize();
        if (rel.isAbsolute() || !resolved.startsWith(dir) || resolved.equals(dir)) {
            throw CriException.invalidArgument("config.log_path '" + printable(relative)
                    + "' must be a file path relative to the sandbox log directory " + dir + " and stay inside it");
        }
        return Optional.of(resolved);
    }

    static void imageSpec(String field, ImageSpec image, boolean present) {
        if (!present || image.getImage().isEmpty()) {
            throw CriException.invalidArgument(field + ".image is required: name the image by reference or id");
        }
        String ref = image.getImage();
        if (ref.length() > MAX_IMAGE_REFERENCE) {
            throw CriException.invalidArgument(field + ".image is " + ref.length()
                    + " characters long; image references are at most " + MAX_IMAGE_REFERENCE);
        }
        for (int i = 0; i < ref.length(); i++) {
            char c = ref.charAt(i);
            if (c <= ' ' || c == 0x7f) {
                throw CriException.invalidArgument(field + ".image '" + printable(ref)
                        + "' contains white space or control characters, which no image reference has");
            }
        }
    }

    static long nonNegativeSeconds(String field, long seconds) {
        if (seconds < 0) {
            throw CriException.invalidArgument(field + " is " + seconds + " seconds; it must be 0 or more");
        }
        return seconds;
    }

    static void command(String field, List<String> command) {
        if (command.isEmpty() || command.getFirst().isEmpty()) {
            throw CriException.invalidArgument(field + " is required: give the program to run and its arguments");
        }
        for (int i = 0; i < command.size(); i++) {
            noNul(field + "[" + i + "]", command.get(i));
        }
    }

    static void streams(String rpc, boolean stdin, boolean stdout, boolean stderr, boolean tty) {
        if (!stdin && !stdout && !stderr) {
            throw CriException.invalidArgument(rpc + " needs at least one of stdin, stdout and stderr");
        }
        if (tty && stderr) {
            throw CriException.invalidArgument(rpc + " with tty must not ask for stderr: a terminal has one output "
                    + "stream, which carries both");
        }
    }

    static void ports(String field, List<Integer> ports) {
        for (int i = 0; i < ports.size(); i++) {
            int port = ports.get(i);
            if (port < 1 || port > 65535) {
                throw CriException.invalidArgument(field + "[" + i + "] " + port + " is not a port (1-65535)");
            }
        }
    }

    /** Parses the pod CIDRs of UpdateRuntimeConfig: empty, or comma-separated (dual stack) CIDRs. */
    static List<String> podCidrs(String value) {
        List<String> cidrs = new ArrayList<>();
        if (value.isBlank()) {
            return cidrs;
        }
        for (String part : value.split(",")) {
            String cidr = part.strip();
            int slash = cidr.indexOf('/');
            String problem = null;
            if (slash < 0) {
                problem = "has no prefix length";
            } else {
                String address = cidr.substring(0, slash);
                int bits = -1;
                try {
                    bits = Integer.parseInt(cidr.substring(slash + 1));
                } catch (NumberFormatException e) {
                    problem = "has a prefix length that is not a number";
                }
                if (problem == null) {
                    try {
                        // ofLiteral never consults DNS, unlike getByName.
                        int max = InetAddress.ofLiteral(address).getAddress().length * 8;
                        if (bits < 0 || bits > max) {
                            problem = "has prefix length " + bits + ", outside 0-" + max;
                        }
                    } catch (IllegalArgumentException e) {
                        problem = "does not start with an IP address";
                    }
                }
            }
            if (problem != null) {
                throw CriException.invalidArgument("runtime_config.network_config.pod_cidr '" + printable(cidr)
                        + "' " + problem + "; expected a CIDR such as 10.244.1.0/24 or fd00:10:244:1::/64");
            }
            cidrs.add(cidr);
        }
        return cidrs;
    }

    private static void portMapping(String field, PortMapping mapping) {
        if (mapping.getProtocol() == Protocol.UNRECOGNIZED) {
            throw CriException.invalidArgument(field + ".protocol " + mapping.getProtocolValue()
                    + " is not TCP, UDP or SCTP");
        }
        if (mapping.getContainerPort() < 1 || mapping.getContainerPort() > 65535) {
            throw CriException.invalidArgument(field + ".container_port " + mapping.getContainerPort()
                    + " is not a port (1-65535)");
        }
        if (mapping.getHostPort() < 0 || mapping.getHostPort() > 65535) {
            throw CriException.invalidArgument(field + ".host_port " + mapping.getHostPort()
                    + " is not a port (0 for none, else 1-65535)");
        }
    }

    private static void name(String field, String value) {
        if (value.isEmpty()) {
            throw CriException.invalidArgument(field + " is required");
        }
        if (value.length() > MAX_NAME) {
            throw CriException.invalidArgument(field + " is " + value.length() + " characters long; at most "
                    + MAX_NAME + " are allowed");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < ' ' || c == 0x7f || c == '/' || c == '\\') {
                throw CriException.invalidArgument(field + " '" + printable(value)
                        + "' contains '/', '\\' or a control character");
            }
        }
    }

    private static Path absolutePath(String field, String value) {
        noNul(field, value);
        Path path;
        try {
            path = Path.of(value);
        } catch (InvalidPathException e) {
            throw CriException.invalidArgument(field + " '" + printable(value) + "' is not a path");
        }
        if (!path.isAbsolute() || !path.normalize().equals(path) || value.contains("/../") || value.endsWith("/..")) {
            throw CriException.invalidArgument(field + " '" + printable(value)
                    + "' must be an absolute path without '.' or '..' parts");
        }
        return path;
    }

    private static void noNul(String field, String value) {
        if (value.indexOf('\0') >= 0) {
            throw CriException.invalidArgument(field + " contains a NUL character");
        }
    }

    /** Quotes hostile input safely into messages: control characters escaped, length capped. */
    static String printable(String value) {
        StringBuilder out = new StringBuilder();
        int limit = Math.min(value.length(), 100);
        for (int i = 0; i < limit; i++) {
            char c = value.charAt(i);
            if (c < ' ' || c == 0x7f) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (value.length() > limit) {
            out.append("...");
        }
        return out.toString();
    }
}
