package dev.flotilla.containers;

import dev.flotilla.agent.protocol.Process;
import dev.flotilla.images.ImageConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns an image config and a request into the agent's {@link Process}, with Docker's rules: a request command
 * replaces Cmd (the Entrypoint stays); request env entries override the image's by name; an empty WorkingDir
 * is {@code /}; User is {@code uid}, {@code uid:gid}, or {@code root}. Names other than root are refused:
 * resolving them needs the image's /etc/passwd, which the host does not read.
 */
public final class ProcessTemplate {
    /** The PATH a container gets when neither the image nor the request sets one (Docker's default). */
    public static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private ProcessTemplate() {}

    public static Process from(ImageConfig image, List<String> command, List<String> extraEnv) {
        List<String> args = new ArrayList<>(image.entrypoint());
        args.addAll(command.isEmpty() ? image.cmd() : command);
        return build(image, args, extraEnv, "");
    }

    /**
     * Kubernetes' rules (a container's {@code command} and {@code args}): a command replaces the Entrypoint and
     * then only the request's args follow it; without a command, args replace Cmd after the Entrypoint. A
     * non-empty {@code workingDir} replaces the image's.
     */
    public static Process kubernetes(ImageConfig image, List<String> command, List<String> args, List<String> extraEnv,
                                     String workingDir) {
        List<String> argv = new ArrayList<>();
        if (!command.isEmpty()) {
            argv.addAll(command);
            argv.addAll(args);
        } else {
            argv.addAll(image.entrypoint());
            argv.addAll(args.isEmpty() ? image.cmd() : args);
        }
        return build(image, argv, extraEnv, workingDir);
    }

    private static Process build(ImageConfig image, List<String> args, List<String> extraEnv, String workingDir) {
        if (args.isEmpty()) {
            throw new ContainerException("the image has neither Entrypoint nor Cmd and the request gives no command: nothing to run");
        }
        Process.Builder p = Process.newBuilder().addAllArgs(args).addAllEnv(mergeEnv(image.env(), extraEnv));
        String cwd = workingDir != null && !workingDir.isBlank() ? workingDir
                : image.workingDir() == null || image.workingDir().isBlank() ? "/" : image.workingDir();
        if (!cwd.startsWith("/")) {
            throw new ContainerException("the image's WorkingDir " + cwd + " is not an absolute path");
        }
        p.setCwd(cwd);
        int[] ids = user(image.user());
        p.setUid(ids[0]).setGid(ids[1]);
        return p.build();
    }

    static List<String> mergeEnv(List<String> image, List<String> extra) {
        Map<String, String> byName = new LinkedHashMap<>();
        for (List<String> list : List.of(image, extra)) {
            for (String entry : list) {
                int eq = entry.indexOf('=');
                if (eq <= 0) {
                    throw new ContainerException("environment entry '" + entry + "' is not NAME=value");
                }
                byName.put(entry.substring(0, eq), entry);
            }
        }
        byName.putIfAbsent("PATH", DEFAULT_PATH);
        return List.copyOf(byName.values());
    }

    /** {uid, gid} of an image's User field. */
    static int[] user(String user) {
        if (user == null || user.isBlank() || user.equals("root") || user.equals("root:root")) {
            return new int[] {0, 0};
        }
        String[] parts = user.split(":", -1);
        if (parts.length > 2) {
            throw new ContainerException("the image's User '" + user + "' is not uid, uid:gid or root");
        }
        int uid = id(parts[0], user);
        int gid = parts.length == 2 ? id(parts[1], user) : uid;
        return new int[] {uid, gid};
    }

    private static int id(String text, String user) {
        if (text.equals("root")) {
            return 0;
        }
        try {
            int v = Integer.parseInt(text);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ContainerException("the image's User '" + user + "' names '" + text
                    + "', which is not a number: only numeric users (uid or uid:gid) and root are supported");
        }
    }
}
