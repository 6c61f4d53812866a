package dev.flotilla.vmm.cli;

import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;
import dev.flotilla.vmm.devices.virtio.blk.BlockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.balloon.BalloonDeviceConfig;
import dev.flotilla.vmm.devices.virtio.net.MacAddress;
import dev.flotilla.vmm.devices.virtio.net.NetDeviceConfig;
import dev.flotilla.vmm.devices.virtio.rng.RngDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig;
import dev.flotilla.vmm.bench.BootBench;
import dev.flotilla.vmm.bench.IoBench;
import dev.flotilla.vmm.bench.VmDensityBench;
import dev.flotilla.vmm.kvm.KvmHost;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.FileDescriptor;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The engine's command line:
 * <pre>
 *   host                                   prints what kind of KVM this host has
 *   vm run --kernel K [--initrd I] [--cmdline C] [--vcpus N] [--memory MiB]
 *          [--drive PATH[,ro][,serial=ID]]... [--rng] [--vsock CID[,uds=PATH]]
 *          [--net tap=NAME[,mac=MAC]]... [--balloon] [--no-packed] [--no-event-idx] [--huge-pages]
 *                                          boots one VM in the foreground, console on stdout;
 *                                          drives become /dev/vda, /dev/vdb, ... in order;
 *                                          uds=PATH: the guest's vsock ports on a Unix socket
 *                                          (CONNECT PORT), guest connections to host port P
 *                                          forwarded to PATH_P; NICs are eth0, eth1, ... (the
 *                                          tap is created if missing, needs CAP_NET_ADMIN; its
 *                                          address is the caller's job)
 *   bench vm-density [--count N] [--memory-kib K] [--rounds R] [--json FILE]
 *   bench boot --kernel K --initrd I [--runs N] [--vcpus V] [--memory MiB] [--cmdline C] [--huge-pages on|off] [--json FILE]
 *   bench io --kernel K --initrd I [--size-mib N] [--small-reads N] [--vsock-mib N] [--dir D] [--rounds N] [--huge-pages on|off] [--packed on|off] [--qemu none] [--json FILE]
 * </pre>
 * Exit status: 0 when the guest ended by itself (reset or power-off), 1 on an error, 2 on bad usage.
 */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: flotilla-vmm host
                   flotilla-vmm vm run --kernel FILE [--initrd FILE] [--cmdline TEXT] [--vcpus N] [--memory MiB]
                          [--drive PATH[,ro][,serial=ID]]... [--rng] [--vsock CID[,uds=PATH]]
                          [--net tap=NAME[,mac=MAC]]... [--balloon] [--no-packed] [--no-event-idx] [--huge-pages]
                   flotilla-vmm bench vm-density [--count N] [--memory-kib K] [--rounds R] [--json FILE]
                   flotilla-vmm bench boot --kernel VMLINUX --initrd FILE [--runs N] [--process-runs N]
                                [--vcpus V] [--memory MiB] [--cmdline TEXT] [--huge-pages on|off] [--json FILE]
                   flotilla-vmm bench io --kernel VMLINUX --initrd FILE [--size-mib N] [--small-reads N]
                                [--vsock-mib N] [--vcpus V] [--memory MiB] [--dir DIR] [--rounds N] [--huge-pages on|off] [--packed on|off] [--qemu none] [--json FILE]
            """;

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.out, System.err));
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        Deque<String> a = new ArrayDeque<>(args);
        String command = a.isEmpty() ? "" : a.pop();
        try {
            return switch (command) {
                case "host" -> {
                    out.println(KvmHost.detect().sentence());
                    yield 0;
                }
                case "vm" -> {
                    if (!"run".equals(a.peek())) {
                        throw new UsageException("unknown vm command " + (a.isEmpty() ? "(none)" : a.peek()));
                    }
                    a.pop();
                    yield vmRun(parseRun(a), err);
                }
                case "bench" -> bench(a, out, err);
                default -> throw new UsageException(command.isEmpty() ? "no command given" : "unknown command " + command);
            };
        } catch (UsageException e) {
            err.println("flotilla-vmm: " + e.getMessage());
            err.print(USAGE);
            return 2;
        } catch (IllegalArgumentException e) {
            err.println("flotilla-vmm: " + e.getMessage());
            return 2;
        }
    }

    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    private static int bench(Deque<String> a, PrintStream out, PrintStream err) {
        String which = a.isEmpty() ? "" : a.pop();
        Map<String, String> options = new HashMap<>();
        while (!a.isEmpty()) {
            String option = a.pop();
            if (!option.startsWith("--") || a.isEmpty()) {
                throw new UsageException(option.startsWith("--") ? option + " needs a value" : "unexpected argument " + option);
            }
            options.put(option, a.pop());
        }
        try {
            return switch (which) {
                case "vm-density" -> {
                    requireOnly(options, "--count", "--memory-kib", "--rounds", "--json");
                    yield VmDensityBench.run(new VmDensityBench.Options(
                            number("--count", options.getOrDefault("--count", "1000")),
                            number("--memory-kib", options.getOrDefault("--memory-kib", "16384")),
                            number("--rounds", options.getOrDefault("--rounds", "3")),
                            Optional.ofNullable(options.get("--json")).map(Path::of)), out);
                }
                case "vm-density-round" -> {
                    requireOnly(options, "--count", "--memory-kib");
                    yield VmDensityBench.round(number("--count", options.getOrDefault("--count", "1000")),
                            number("--memory-kib", options.getOrDefault("--memory-kib", "16384")), out);
                }
                case "boot" -> {
                    requireOnly(options, "--kernel", "--initrd", "--runs", "--process-runs", "--vcpus", "--memory",
                            "--cmdline", "--json", "--qemu", "--huge-pages");
                    if (!options.containsKey("--kernel") || !options.containsKey("--initrd")) {
                        throw new UsageException("bench boot needs --kernel (a vmlinux) and --initrd");
                    }
                    yield BootBench.run(new BootBench.Options(Path.of(options.get("--kernel")),
                            Path.of(options.get("--initrd")),
                            number("--runs", options.getOrDefault("--runs", "10")),
                            number("--process-runs", options.getOrDefault("--process-runs", "3")),
                            number("--vcpus", options.getOrDefault("--vcpus", "1")),
                            number("--memory", options.getOrDefault("--memory", "128")),
                            options.getOrDefault("--cmdline", BootBench.DEFAULT_CMDLINE),
                            options.getOrDefault("--qemu", "qemu-system-x86_64"),
                            Optional.ofNullable(options.get("--json")).map(Path::of),
                            onOff("--huge-pages", options.getOrDefault("--huge-pages", "off"))), out);
                }
                case "io" -> {
                    requireOnly(options, "--kernel", "--initrd", "--size-mib", "--small-reads", "--vsock-mib", "--vcpus",
                            "--memory", "--cmdline", "--json", "--qemu", "--python", "--dir", "--rounds", "--huge-pages", "--packed");
                    if (!options.containsKey("--kernel") || !options.containsKey("--initrd")) {
                        throw new UsageException("bench io needs --kernel (a vmlinux) and --initrd");
                    }
                    yield IoBench.run(new IoBench.Options(Path.of(options.get("--kernel")),
                            Path.of(options.get("--initrd")),
                            number("--size-mib", options.getOrDefault("--size-mib", "256")),
                            number("--small-reads", options.getOrDefault("--small-reads", "4096")),
                            (long) number("--vsock-mib", options.getOrDefault("--vsock-mib", "128")) << 20,
                            number("--vcpus", options.getOrDefault("--vcpus", "1")),
                            number("--memory", options.getOrDefault("--memory", "256")),
                            options.getOrDefault("--cmdline", BootBench.DEFAULT_CMDLINE),
                            options.getOrDefault("--qemu", "qemu-system-x86_64"),
                            options.getOrDefault("--python", "python3"),
                            Optional.ofNullable(options.get("--dir")).map(Path::of),
                            Optional.ofNullable(options.get("--json")).map(Path::of),
                            number("--rounds", options.getOrDefault("--rounds", "3")),
                            onOff("--huge-pages", options.getOrDefault("--huge-pages", "off")),
                            onOff("--packed", options.getOrDefault("--packed", "on"))), out);
                }
                default -> throw new UsageException(which.isEmpty() ? "no benchmark named" : "unknown benchmark " + which);
            };
        } catch (VmException | IOException | IllegalStateException e) {
            err.println("flotilla-vmm: bench " + which + " failed: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("flotilla-vmm: interrupted");
            return 1;
        }
    }

    private static void requireOnly(Map<String, String> options, String... allowed) {
        for (String key : options.keySet()) {
            if (!List.of(allowed).contains(key)) {
                throw new UsageException("unknown option " + key);
            }
        }
    }

    static VmConfig parseRun(Deque<String> a) {
        // Console output goes straight to fd 1, unbuffered, so prompts without newline show up.
        OutputStream console = new FileOutputStream(FileDescriptor.out);
        VmConfig.Builder b = VmConfig.builder().consoleOutput(console).consoleInput(System.in);
        List<BlockDeviceConfig> drives = new ArrayList<>();
        List<NetDeviceConfig> nics = new ArrayList<>();
        boolean rng = false;
        boolean balloon = false;
        VsockDeviceConfig vsock = null;
        boolean packed = true;
        boolean eventIdx = true;
        while (!a.isEmpty()) {
            String option = a.pop();
            switch (option) {
                case "--rng" -> { rng = true; continue; }
                case "--balloon" -> { balloon = true; continue; }
                case "--no-packed" -> { packed = false; continue; }
                case "--no-event-idx" -> { eventIdx = false; continue; }
                case "--huge-pages" -> { b.hugePages(true); continue; }
                default -> { }
            }
            if (a.isEmpty()) {
                throw new UsageException(option + " needs a value");
            }
            String value = a.pop();
            switch (option) {
                case "--kernel" -> b.kernel(Path.of(value));
                case "--initrd" -> b.initrd(Path.of(value));
                case "--cmdline" -> b.cmdline(value);
                case "--vcpus" -> b.vcpus(number(option, value));
                case "--memory" -> b.memoryMib(number(option, value));
                case "--drive" -> drives.add(drive(value));
                case "--net" -> nics.add(net(value));
                case "--vsock" -> {
                    if (vsock != null) {
                        throw new UsageException("--vsock may be given once (a guest uses one vsock device)");
                    }
                    vsock = vsock(value);
                }
                default -> throw new UsageException("unknown option " + option);
            }
        }
        for (BlockDeviceConfig d : drives) {
            b.device(d.withRings(packed, eventIdx));
        }
        for (NetDeviceConfig n : nics) {
            b.device(n.withRings(packed, eventIdx));
        }
        if (rng) {
            b.device(new RngDeviceConfig(packed, eventIdx));
        }
        if (balloon) {
            b.device(BalloonDeviceConfig.defaults().withRings(packed, eventIdx));
        }
        if (vsock != null) {
            b.device(vsock.withRings(packed, eventIdx));
        }
        return b.build();
    }

    /** tap=NAME[,mac=MAC] */
    static NetDeviceConfig net(String spec) {
        String tap = null;
        MacAddress mac = null;
        for (String part : spec.split(",")) {
            if (part.startsWith("tap=")) {
                tap = part.substring("tap=".length());
            } else if (part.startsWith("mac=")) {
                mac = MacAddress.parse(part.substring("mac=".length()));
            } else {
                throw new UsageException("unknown --net option '%s' (expected tap=NAME or mac=MAC)".formatted(part));
            }
        }
        if (tap == null) {
            throw new UsageException("--net needs a tap: --net tap=NAME[,mac=MAC]");
        }
        NetDeviceConfig config = NetDeviceConfig.of(tap);
        return mac == null ? config : config.withMac(mac);
    }

    /** PATH[,ro][,serial=ID] */
    static BlockDeviceConfig drive(String spec) {
        String[] parts = spec.split(",");
        if (parts[0].isEmpty()) {
            throw new UsageException("--drive needs a file: --drive PATH[,ro][,serial=ID]");
        }
        boolean readOnly = false;
        String serial = "";
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].equals("ro")) {
                readOnly = true;
            } else if (parts[i].startsWith("serial=")) {
                serial = parts[i].substring("serial=".length());
            } else {
                throw new UsageException("unknown --drive option '%s' (expected ro or serial=ID)".formatted(parts[i]));
            }
        }
        return BlockDeviceConfig.of(Path.of(parts[0]), readOnly).withSerial(serial);
    }

    /** CID[,uds=PATH] */
    static VsockDeviceConfig vsock(String spec) {
        String[] parts = spec.split(",");
        long cid;
        try {
            cid = Long.parseLong(parts[0]);
        } catch (NumberFormatException e) {
            throw new UsageException("--vsock needs a guest CID first, not '%s': --vsock CID[,uds=PATH]".formatted(parts[0]));
        }
        VsockDeviceConfig config = VsockDeviceConfig.of(cid);
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].startsWith("uds=") && parts[i].length() > "uds=".length()) {
                config = config.withUnixBridge(Path.of(parts[i].substring("uds=".length())));
            } else {
                throw new UsageException("unknown --vsock option '%s' (expected uds=PATH)".formatted(parts[i]));
            }
        }
        return config;
    }

    private static boolean onOff(String option, String value) {
        return switch (value) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new UsageException(option + " takes on or off, not '" + value + "'");
        };
    }

    private static int number(String option, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new UsageException(option + " takes a number, not '" + value + "'");
        }
    }

    private static int vmRun(VmConfig config, PrintStream err) {
        try (MicroVm vm = MicroVm.create(config)) {
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
                try {
                    vm.stop();
                } catch (Exception e) {
                    // exiting anyway
                }
            }));
            vm.start();
            ExitReason reason = vm.awaitExit();
            err.println();
            vm.timeToFirstRunNanos().ifPresent(n -> err.printf("flotilla-vmm: start request to first KVM_RUN: %.1f ms%n", n / 1e6));
            vm.bootTimeNanos().ifPresentOrElse(
                    n -> err.printf("flotilla-vmm: boot time (start request to init's boot-timer write): %.1f ms%n", n / 1e6),
                    () -> err.println("flotilla-vmm: boot time: the guest never wrote the boot timer"));
            err.println("flotilla-vmm: exit reason: " + reason.describe());
            return reason instanceof ExitReason.Error ? 1 : 0;
        } catch (VmException e) {
            err.println("flotilla-vmm: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("flotilla-vmm: interrupted");
            return 1;
        } catch (RuntimeException e) {
            err.println("flotilla-vmm: " + e);
            return 1;
        }
    }
}
