package dev.flotilla.node.sandbox;

import dev.flotilla.contract.v1.SandboxLaunch;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.api.FieldError;
import dev.flotilla.node.vm.GuestKind;
import dev.flotilla.vmm.VmConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Checks requests of both APIs field by field and reports every problem in one 400 answer, so a client fixes
 * its request in one round trip. Limits are those of the VMM ({@link VmConfig}) and of Kubernetes' label syntax.
 */
public final class SandboxValidator {
    static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    /** Ids become file names: letters, digits, '-', '_', '.', not starting with a dot. */
    static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    static final Pattern LABEL_KEY = Pattern.compile("([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?");
    static final Pattern LABEL_VALUE = Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");
    static final int MAX_LABELS = 64;
    static final int MAX_COMMAND_ARGS = 256;
    static final int MAX_ARG_LENGTH = 4096;
    static final int MAX_IMAGE_LENGTH = 512;
    static final int MAX_KERNEL_ARGS = 1024;
    static final long TINY_DEFAULT_MEMORY_MIB = VmConfig.MIN_MEMORY_MIB;
    static final long LINUX_DEFAULT_MEMORY_MIB = 256;

    private SandboxValidator() {
    }

    /** The node API's create request → a spec with defaults filled in. */
    public static SandboxSpec fromRequest(CreateSandboxRequest r, boolean networkDefault, boolean networkAvailable) {
        if (r == null) {
            throw ApiException.invalid(List.of(new FieldError("body", "is required (a JSON object with at least a name)")));
        }
        List<FieldError> errors = new ArrayList<>();
        checkName(r.name(), "name", errors);
        GuestKind guest = null;
        if (r.guest() != null) {
            guest = switch (r.guest()) {
                case "tiny" -> GuestKind.TINY;
                case "linux" -> GuestKind.LINUX;
                default -> {
                    errors.add(new FieldError("guest", "must be tiny or linux, not '" + r.guest() + "'"));
                    yield null;
                }
            };
        }
        if (r.image() != null) {
            checkImage(r.image(), "image", errors);
            if (guest == GuestKind.TINY) {
                errors.add(new FieldError("image", "needs guest linux: the tiny guest cannot run containers"));
            }
        }
        if (r.command() != null && !r.command().isEmpty() && r.image() == null) {
            errors.add(new FieldError("command", "needs an image: it is the command of the sandbox's container"));
        }
        checkCommand(r.command(), errors);
        GuestKind effective = guest != null ? guest : r.image() != null ? GuestKind.LINUX : GuestKind.TINY;
        int vcpus = r.vcpus() == null ? 1 : r.vcpus();
        checkVcpus(vcpus, "vcpus", errors);
        long memory = r.memoryMiB() != null ? r.memoryMiB()
                : effective == GuestKind.TINY ? TINY_DEFAULT_MEMORY_MIB : LINUX_DEFAULT_MEMORY_MIB;
        checkMemory(memory, "memoryMiB", errors);
        checkLabels(r.labels(), errors);
        boolean network = r.network() == null ? networkDefault : r.network();
        if (network && !networkAvailable) {
            errors.add(new FieldError("network", "cannot be true: sandbox networking is disabled on this node"));
        }
        if (r.kernelArgs() != null) {
            if (effective != GuestKind.LINUX) {
                errors.add(new FieldError("kernelArgs", "only applies to guest linux"));
            }
            if (r.kernelArgs().length() > MAX_KERNEL_ARGS) {
                errors.add(new FieldError("kernelArgs", "must be at most " + MAX_KERNEL_ARGS + " characters"));
            }
            if (r.kernelArgs().chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                errors.add(new FieldError("kernelArgs", "must not contain control characters"));
            }
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new SandboxSpec(SandboxManager.newId(), r.name(), effective, r.image(), r.command(), vcpus, memory,
                r.labels(), 0, network, r.kernelArgs());
    }

    /**
     * The control plane's launch → a spec. The contract carries an image only: {@link GuestKind#TINY_IMAGE} and
     * {@link GuestKind#LINUX_IMAGE} select a guest without container, any other image a Linux guest with it.
     */
    public static SandboxSpec fromLaunch(String pathId, SandboxLaunch l, boolean networkDefault) {
        if (l == null) {
            throw ApiException.invalid(List.of(new FieldError("body", "is required (a SandboxLaunch)")));
        }
        List<FieldError> errors = new ArrayList<>();
        if (!ID.matcher(pathId).matches()) {
            errors.add(new FieldError("sandboxId", "must be 1 to 128 letters, digits, '-', '_' or '.', starting with a letter or digit"));
        }
        if (l.sandboxId() != null && !l.sandboxId().equals(pathId)) {
            errors.add(new FieldError("sandboxId", "is " + l.sandboxId() + " in the body but " + pathId + " in the path"));
        }
        String name = l.name() == null ? pathId.toLowerCase(java.util.Locale.ROOT) : l.name();
        checkName(name, "name", errors);
        GuestKind guest = GuestKind.LINUX;
        String image = null;
        if (l.image() == null || l.image().isBlank()) {
            errors.add(new FieldError("image", "is required (" + GuestKind.TINY_IMAGE + " for the tiny guest)"));
        } else if (l.image().equals(GuestKind.TINY_IMAGE)) {
            guest = GuestKind.TINY;
        } else if (!l.image().equals(GuestKind.LINUX_IMAGE)) {
            checkImage(l.image(), "image", errors);
            image = l.image();
        }
        checkCommand(l.command(), errors);
        checkVcpus(l.vcpus(), "vcpus", errors);
        checkMemory(l.memoryMiB(), "memoryMiB", errors);
        checkLabels(l.labels(), errors);
        if (l.generation() < 0) {
            errors.add(new FieldError("generation", "must not be negative"));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new SandboxSpec(pathId, name, guest, image, l.command(), l.vcpus(), l.memoryMiB(), l.labels(),
                l.generation(), networkDefault, null);
    }

    private static void checkName(String name, String field, List<FieldError> errors) {
        if (name == null || name.isBlank()) {
            errors.add(new FieldError(field, "is required"));
        } else if (!DNS_LABEL.matcher(name).matches()) {
            errors.add(new FieldError(field, "must be a DNS label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit"));
        }
    }

    private static void checkImage(String image, String field, List<FieldError> errors) {
        if (image.isBlank()) {
            errors.add(new FieldError(field, "must not be blank"));
        } else if (image.length() > MAX_IMAGE_LENGTH) {
            errors.add(new FieldError(field, "must be at most " + MAX_IMAGE_LENGTH + " characters"));
        } else if (image.chars().anyMatch(c -> c <= 0x20 || c == 0x7f)) {
            errors.add(new FieldError(field, "must not contain spaces or control characters"));
        }
    }

    private static void checkCommand(List<String> command, List<FieldError> errors) {
        if (command == null) {
            return;
        }
        if (command.size() > MAX_COMMAND_ARGS) {
            errors.add(new FieldError("command", "must have at most " + MAX_COMMAND_ARGS + " arguments"));
            return;
        }
        for (int i = 0; i < command.size(); i++) {
            String arg = command.get(i);
            if (arg == null) {
                errors.add(new FieldError("command[" + i + "]", "must not be null"));
            } else if (arg.length() > MAX_ARG_LENGTH) {
                errors.add(new FieldError("command[" + i + "]", "must be at most " + MAX_ARG_LENGTH + " characters"));
            } else if (arg.indexOf('\0') >= 0) {
                errors.add(new FieldError("command[" + i + "]", "must not contain NUL characters"));
            }
        }
    }

    private static void checkVcpus(long vcpus, String field, List<FieldError> errors) {
        if (vcpus < 1 || vcpus > VmConfig.MAX_VCPUS) {
            errors.add(new FieldError(field, "must be 1 to " + VmConfig.MAX_VCPUS + ", not " + vcpus));
        }
    }

    private static void checkMemory(long memory, String field, List<FieldError> errors) {
        if (memory < VmConfig.MIN_MEMORY_MIB || memory > VmConfig.MAX_MEMORY_MIB) {
            errors.add(new FieldError(field, "must be " + VmConfig.MIN_MEMORY_MIB + " to " + VmConfig.MAX_MEMORY_MIB + ", not " + memory));
        }
    }

    private static void checkLabels(Map<String, String> labels, List<FieldError> errors) {
        if (labels == null) {
            return;
        }
        if (labels.size() > MAX_LABELS) {
            errors.add(new FieldError("labels", "must have at most " + MAX_LABELS + " entries"));
            return;
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!LABEL_KEY.matcher(e.getKey()).matches()) {
                errors.add(new FieldError("labels." + e.getKey(), "is not a valid label key ([prefix/]name, name 1 to 63 letters, digits, '-', '_', '.')"));
            }
            if (e.getValue() == null || !LABEL_VALUE.matcher(e.getValue()).matches()) {
                errors.add(new FieldError("labels." + e.getKey(), "has an invalid value (0 to 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)"));
            }
        }
    }
}
