package dev.flotilla.vmm.bench;

import dev.flotilla.vmm.ExitReason;
import dev.flotilla.vmm.MicroVm;
import dev.flotilla.vmm.VmConfig;
import dev.flotilla.vmm.VmException;
import dev.flotilla.vmm.devices.virtio.blk.BlockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockConnection;
import dev.flotilla.vmm.devices.virtio.vsock.VsockDeviceConfig;
import dev.flotilla.vmm.devices.virtio.vsock.VsockHost;
import dev.flotilla.vmm.kvm.KvmHost;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench io}: one guest command, run once under the Java VMM and once under QEMU
 * {@code -M microvm,acpi=off} with the same kernel, initramfs and backing file, measures
 * <ul>
 *   <li>virtio-blk: sequential write and read of the whole disk with {@code dd bs=1M} and O_DIRECT
 *       in the guest (so the guest's page cache is out of the way), and 4 KiB O_DIRECT reads one
 *       at a time (queue depth 1, sequential: busybox has no random-offset reader) as IOPS. The
 *       seconds are the guest's own (/proc/uptime around each dd);</li>
 *   <li>virtio-vsock: the guest's {@code vsock-echo client} streams a pattern to host port 5000
 *       and checks the echo; the host peer (a Java listener on ours, a Python AF_VSOCK echo server
 *       behind QEMU's {@code vhost-vsock-device}) times accept to end of stream. Payload MiB/s, one
 *       direction (every byte also comes back).</li>
 * </ul>
 * Ours reads and writes the backing file through the host's page cache; QEMU gets
 * {@code cache=none} where the file system supports O_DIRECT, {@code cache=writeback} (the same
 * page cache as ours) where it does not (tmpfs, as in the lab) — the report says which.
 */
public final class IoBench {

    static final int VSOCK_PORT = 5000;
    static final long GUEST_CID = 3;
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(15);
    private static final Pattern DD = Pattern.compile("(?m)^(IO_\\w+) ([0-9.]+) ([0-9.]+) (\\d+)\\+\\d+ records out");
    private static final Pattern OK = Pattern.compile("(?m)^OK (\\d+) ([0-9a-f]{8})\\r?$");
    private static final Pattern PY_VSOCK = Pattern.compile("(?m)^VSOCK (\\d+) ([0-9.eE+-]+)$");

    public record Options(Path kernel, Path initrd, int sizeMib, int smallReads, long vsockBytes, int vcpus,
                          int memoryMib, String cmdline, String qemu, String python, Optional<Path> dir, Optional<Path> json,
                          int rounds, boolean hugePages, boolean packedRings) {
        public Options {
            if (rounds < 1) {
                throw new IllegalArgumentException("--rounds must be 1 or more");
            }
            if (sizeMib < 1 || smallReads < 1 || vsockBytes < 1) {
                throw new IllegalArgumentException("--size-mib, --small-reads and --vsock-mib must be positive");
            }
            if ((long) smallReads * 4096 > (long) sizeMib << 20) {
                throw new IllegalArgumentException("--small-reads " + smallReads + " x 4 KiB exceeds the " + sizeMib + " MiB disk");
            }
        }
    }

    /** One VMM's figures; NaN where not measured, with the reason in {@code notes}. */
    record Figures(double writeMibS, double readMibS, double readIops, double vsockMibS, List<String> notes) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("seq_write_mib_s", writeMibS);
            m.put("seq_read_mib_s", readMibS);
            m.put("read_4k_iops", readIops);
            m.put("vsock_mib_s", vsockMibS);
            m.put("notes", notes);
            return m;
        }
    }

    private IoBench() {}

    public static int run(Options o, PrintStream out) throws IOException, InterruptedException, VmException {
        KvmHost host = KvmHost.detect();
        boolean inLab = "1".equals(System.getenv("FLOTILLA_IN_LAB"));
        String environment = inLab ? "lab (nested QEMU-TCG host with emulated AMD-V)" : "native " + host.kind();
        out.println("io: host: " + host.sentence());
        out.println("io: environment: " + environment);
        if (host.kind() != KvmHost.Kind.HARDWARE && !inLab) {
            throw new IllegalStateException("a stock Linux guest cannot boot on this host's KVM (" + host.kind()
                    + "); run ./flotilla bench io, which re-launches the benchmark inside the lab");
        }
        Path dir = o.dir().orElseGet(() -> defaultDirectory(inLab));
        Files.createDirectories(dir);
        Path disk = dir.resolve("flotilla-bench-io-" + ProcessHandle.current().pid() + ".img");
        try {
            allocate(disk, (long) o.sizeMib() << 20);
            String command = guestCommand(o);
            out.printf("io: disk %s (%d MiB, allocated), %d vCPU(s), %d MiB guest RAM%nio: guest command: %s%n",
                    disk, o.sizeMib(), o.vcpus(), o.memoryMib(), command);

            // The engine runs in a long-lived JVM (the node agent) whose device code is compiled
            // after its first VMs: the first run here pays the JIT's warm-up (under TCG the
            // compiler threads take much of the two emulated CPUs) and is reported apart. Then
            // rounds of one warm run of ours and one of QEMU, which goes first alternating: the lab's
            // speed drifts by 2x within minutes, so a single pair can be off either way. The table
            // shows each side's median and two ratios: of those medians, and the median of the
            // rounds' own ratios (a round's two runs are back to back, so the drift mostly cancels). The
            // goal counts as met only when both are at least 1.0.
            Figures cold = runOurs(o, disk, command, out);
            boolean withQemu = !o.qemu().equals("none"); // "--qemu none": our side only, to compare engine settings
            List<Figures> oursRuns = new ArrayList<>();
            List<Figures> qemuRuns = new ArrayList<>();
            List<Round> pairs = new ArrayList<>();
            List<String> qemuFailures = new ArrayList<>();
            for (int r = 0; r < o.rounds(); r++) {
                out.println("io: round " + (r + 1) + " of " + o.rounds());
                boolean qemuFirst = r % 2 == 1;
                Figures q = null;
                if (withQemu && qemuFirst) {
                    q = runQemuOrNote(o, disk, command, out, qemuRuns, qemuFailures);
                }
                Figures f = runOurs(o, disk, command, out);
                oursRuns.add(f);
                if (withQemu && !qemuFirst) {
                    q = runQemuOrNote(o, disk, command, out, qemuRuns, qemuFailures);
                }
                if (q != null) {
                    pairs.add(new Round(f, q));
                }
            }
            if (withQemu && qemuRuns.isEmpty()) {
                throw new IllegalStateException("every QEMU run failed: " + String.join("; ", qemuFailures));
            }
            Figures ours = median(oursRuns);
            Figures qemu = withQemu ? median(qemuRuns)
                    : new Figures(Double.NaN, Double.NaN, Double.NaN, Double.NaN, List.of("QEMU not run (--qemu none)"));
            if (!qemuFailures.isEmpty()) {
                List<String> notes = new ArrayList<>(qemu.notes());
                qemuFailures.forEach(f -> notes.add("a QEMU run failed and is not in the median: " + f));
                qemu = new Figures(qemu.writeMibS(), qemu.readMibS(), qemu.readIops(), qemu.vsockMibS(), notes);
            }

            Figures ratios = ratio(ours, qemu);
            Figures paired = pairedRatios(pairs);
            out.println();
            out.printf(Locale.ROOT, "io: %-34s %12s %12s %8s %8s%n", "", "flotilla", "qemu", "ratio", "paired");
            boolean met = true;
            met &= line(out, "blk sequential write, 1 MiB O_DIRECT", "MiB/s", ours.writeMibS(), qemu.writeMibS(),
                    ratios.writeMibS(), paired.writeMibS());
            met &= line(out, "blk sequential read, 1 MiB O_DIRECT", "MiB/s", ours.readMibS(), qemu.readMibS(),
                    ratios.readMibS(), paired.readMibS());
            met &= line(out, "blk 4 KiB O_DIRECT reads, QD1", "IOPS", ours.readIops(), qemu.readIops(),
                    ratios.readIops(), paired.readIops());
            met &= line(out, "vsock guest->host echo stream", "MiB/s", ours.vsockMibS(), qemu.vsockMibS(),
                    ratios.vsockMibS(), paired.vsockMibS());
            out.printf(Locale.ROOT, "io: medians of %d round(s) (ratio: of the medians; paired: median of the %d rounds' own ratios);"
                            + " flotilla's first run in a cold JVM (not in the table): write %.1f MiB/s,"
                            + " read %.1f MiB/s, 4K reads %.0f IOPS, vsock %.1f MiB/s%n",
                    o.rounds(), pairs.size(), cold.writeMibS(), cold.readMibS(), cold.readIops(), cold.vsockMibS());
            for (String n : ours.notes()) {
                out.println("io: flotilla: " + n);
            }
            for (String n : qemu.notes()) {
                out.println("io: qemu: " + n);
            }
            out.println("io: goal: every ratio, of the medians and paired (flotilla / qemu, higher is better), >= 1.0: "
                    + (met ? "met" : "NOT met"));

            if (o.json().isPresent()) {
                Map<String, Object> json = new LinkedHashMap<>();
                json.put("benchmark", "io");
                json.put("date", LocalDate.now().toString());
                json.put("environment", environment);
                json.put("host", host.sentence());
                json.put("kernel", o.kernel().toString());
                json.put("initrd", o.initrd().toString());
                json.put("vcpus", o.vcpus());
                json.put("memory_mib", o.memoryMib());
                json.put("disk", disk.toString());
                json.put("disk_mib", o.sizeMib());
                json.put("small_reads", o.smallReads());
                json.put("vsock_bytes", o.vsockBytes());
                json.put("guest_command", command);
                json.put("rounds", o.rounds());
                json.put("flotilla", ours.toMap());
                json.put("flotilla_cold_jvm", cold.toMap());
                json.put("qemu", qemu.toMap());
                json.put("flotilla_rounds", oursRuns.stream().map(Figures::toMap).toList());
                json.put("qemu_rounds", qemuRuns.stream().map(Figures::toMap).toList());
                json.put("ratios", ratioMap(ratios));
                json.put("paired_ratios", ratioMap(paired));
                json.put("goal_met", met);
                Json.write(o.json().get(), json);
                out.println("io: figures written to " + o.json().get());
            }
            return met ? 0 : 3;
        } finally {
            Files.deleteIfExists(disk);
        }
    }

    /**
     * A QEMU run that fails (in the lab its nested guest sometimes dies: TCG) costs that round its QEMU
     * figure, not the benchmark; the failure is reported. Our own runs are never excused this way.
     */
    private static Figures runQemuOrNote(Options o, Path disk, String command, PrintStream out, List<Figures> runs,
                                         List<String> failures) throws IOException, InterruptedException {
        try {
            Figures f = runQemu(o, disk, command, out);
            runs.add(f);
            return f;
        } catch (IllegalStateException | IOException e) {
            String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            out.println("io: qemu: this run failed: " + first);
            failures.add(first);
            return null;
        }
    }

    /**
     * Where the disk goes without --dir: the temporary directory, except in the lab, whose /tmp is an
     * overlay over the host's 9p share (a lab artifact no host keeps disk images on): there the
     * lab's tmpfs, standing for a host disk whose data sits in the page cache.
     */
    static Path defaultDirectory(boolean inLab) {
        Path shm = Path.of("/dev/shm");
        return inLab && Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    /** One round's two runs, back to back. */
    record Round(Figures ours, Figures qemu) {}

    /** Per figure, flotilla / QEMU (NaN where either is). */
    static Figures ratio(Figures ours, Figures qemu) {
        return new Figures(ours.writeMibS() / qemu.writeMibS(), ours.readMibS() / qemu.readMibS(),
                ours.readIops() / qemu.readIops(), ours.vsockMibS() / qemu.vsockMibS(), List.of());
    }

    /** Per figure, the median over rounds of that round's flotilla / QEMU ratio (rounds where either is NaN left out). */
    static Figures pairedRatios(List<Round> rounds) {
        return median(rounds.stream().map(r -> ratio(r.ours(), r.qemu())).toList());
    }

    private static Map<String, Object> ratioMap(Figures r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seq_write", r.writeMibS());
        m.put("seq_read", r.readMibS());
        m.put("read_4k_iops", r.readIops());
        m.put("vsock", r.vsockMibS());
        return m;
    }

    /** Each figure's median over the runs (NaN figures left out), with the first run's notes. */
    static Figures median(List<Figures> runs) {
        return new Figures(median(runs, Figures::writeMibS), median(runs, Figures::readMibS), median(runs, Figures::readIops),
                median(runs, Figures::vsockMibS), runs.isEmpty() ? List.of() : runs.getFirst().notes());
    }

    private static double median(List<Figures> runs, java.util.function.ToDoubleFunction<Figures> figure) {
        double[] v = runs.stream().mapToDouble(figure).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** Prints one row; true when both ratios are measured and at least 1.0. */
    private static boolean line(PrintStream out, String what, String unit, double ours, double qemu, double ratio,
                                double paired) {
        out.printf(Locale.ROOT, "io: %-34s %12s %12s %8s %8s%n", what + " (" + unit + ")", format(ours), format(qemu),
                ratio(ratio), ratio(paired));
        return !Double.isNaN(ratio) && ratio >= 1.0 && !Double.isNaN(paired) && paired >= 1.0;
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? "n/a" : String.format(Locale.ROOT, "%.2fx", r);
    }

    private static String format(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f", v);
    }

    /** Writes real zeros over the whole file, so neither VMM pays for the file system's first allocation. */
    static void allocate(Path disk, long bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
            for (long at = 0; at < bytes; at += zeros.capacity()) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), bytes - at));
                while (zeros.hasRemaining()) {
                    ch.write(zeros, at + zeros.position());
                }
            }
            ch.force(true);
        }
    }

    /**
     * The guest's script (no double quotes: it travels inside flotilla.run="..."). Busybox's dd here
     * reports no seconds and its date has no %N, so each step is timed with the guest's
     * /proc/uptime (10 ms resolution) around it: "KEY start end N+M records out".
     */
    static String guestCommand(Options o) {
        int mib = o.sizeMib();
        return "u() { read t x < /proc/uptime; echo $t; };"
                + " a=$(u); dd if=/dev/zero of=/dev/vda bs=1M count=" + mib + " oflag=direct 2>/tmp/e && echo IO_SEQ_WRITE $a $(u) $(grep out /tmp/e);"
                + " a=$(u); dd if=/dev/vda of=/dev/null bs=1M count=" + mib + " iflag=direct 2>/tmp/e && echo IO_SEQ_READ $a $(u) $(grep out /tmp/e);"
                + " a=$(u); dd if=/dev/vda of=/dev/null bs=4k count=" + o.smallReads() + " iflag=direct 2>/tmp/e && echo IO_4K_READ $a $(u) $(grep out /tmp/e);"
                + " vsock-echo client 2 " + VSOCK_PORT + " " + o.vsockBytes() + "; echo VSOCK_CLIENT_RC=$?";
    }

    private static Figures runOurs(Options o, Path disk, String command, PrintStream out)
            throws IOException, InterruptedException, VmException {
        String cmdline = o.cmdline() + " flotilla.run=\"" + command + "\" flotilla.exit=reboot";
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        OutputStream sink = new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (console) {
                    console.write(b);
                }
            }
        };
        VmConfig config = VmConfig.builder().kernel(o.kernel()).initrd(o.initrd()).cmdline(cmdline)
                .vcpus(o.vcpus()).memoryMib(o.memoryMib()).consoleOutput(sink).hugePages(o.hugePages())
                .device(BlockDeviceConfig.of(disk, false).withRings(o.packedRings(), true))
                .device(VsockDeviceConfig.of(GUEST_CID).withRings(o.packedRings(), true)).build();
        CompletableFuture<double[]> stream = new CompletableFuture<>();
        out.println("io: flotilla: booting the guest");
        Optional<ExitReason> exit;
        try (MicroVm vm = MicroVm.create(config)) {
            vm.start();
            VsockHost vsock = vm.vsock().orElseThrow();
            try (AutoCloseable listener = vsock.listen(VSOCK_PORT, c -> stream.complete(echo(c)))) {
                exit = vm.awaitExit(RUN_TIMEOUT);
                out.println("io: flotilla: vCPU exits to the VMM during the run: " + vm.exitCounts());
                if (exit.isEmpty()) {
                    try {
                        vm.stop();
                    } catch (java.util.concurrent.TimeoutException e) {
                        // reported below with the console
                    }
                }
            } catch (Exception e) {
                throw new IOException("the vsock listener failed: " + e.getMessage(), e);
            }
        }
        String text;
        synchronized (console) {
            text = console.toString(StandardCharsets.UTF_8);
        }
        if (exit.isEmpty()) {
            throw new IllegalStateException("our guest did not finish within " + RUN_TIMEOUT + "; console:\n" + tail(text));
        }
        List<String> notes = new ArrayList<>();
        notes.add("backing file through the host page cache (preadv/pwritev), " + (o.packedRings()
                ? "device defaults (packed ring offered, event idx)" : "split rings only (--packed off), event idx")
                + (o.hugePages() ? ", guest RAM on transparent huge pages" : ""));
        double[] vsock = stream.getNow(null);
        double vsockMibS = vsockFigure(text, vsock == null ? -1 : (long) vsock[0], vsock == null ? 0 : vsock[1], o, notes);
        Figures f = figures(text, o, vsockMibS, notes);
        out.printf(Locale.ROOT, "io: flotilla: write %.1f MiB/s, read %.1f MiB/s, 4K reads %.0f IOPS, vsock %.1f MiB/s%n",
                f.writeMibS(), f.readMibS(), f.readIops(), f.vsockMibS());
        if (Double.isNaN(f.vsockMibS())) {
            // The table shows the notes of one run only: say here why this one has no figure.
            f.notes().forEach(n -> out.println("io: flotilla: this run: " + n));
        }
        return f;
    }

    /** Echoes one guest connection to its end; returns {bytes, seconds from accept to end of stream}. */
    private static double[] echo(VsockConnection c) {
        long start = System.nanoTime();
        long total = 0;
        try (c) {
            InputStream in = c.inputStream();
            OutputStream o = c.outputStream();
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = in.read(buffer, 0, buffer.length)) >= 0) {
                o.write(buffer, 0, n);
                total += n;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            c.shutdownOutput();
            c.flush();
            return new double[] {total, seconds};
        } catch (IOException | RuntimeException e) {
            return new double[] {-1, 0};
        }
    }

    private static Figures runQemu(Options o, Path disk, String command, PrintStream out)
            throws IOException, InterruptedException {
        List<String> notes = new ArrayList<>();
        String cache = supportsODirect(disk) ? "none" : "writeback";
        if (!cache.equals("none")) {
            notes.add("cache=writeback: " + disk.getParent() + " does not support O_DIRECT (tmpfs?), so cache=none cannot open it;"
                    + " writeback uses the host page cache like ours");
        } else {
            notes.add("cache=none (host O_DIRECT)");
        }
        // QEMU appends its own virtio_mmio.device= entries: give it the command line without ours.
        String cmdline = MicroVm.kernelCommandLine(o.cmdline() + " flotilla.run=\"" + command + "\" flotilla.exit=reboot", List.of());
        List<String> qemu = new ArrayList<>(List.of(o.qemu(), "-M", "microvm,acpi=off", "-enable-kvm", "-cpu", "host",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-smp", Integer.toString(o.vcpus()), "-m", o.memoryMib() + "M",
                "-kernel", o.kernel().toString(), "-initrd", o.initrd().toString(), "-append", cmdline,
                "-serial", "stdio",
                "-drive", "file=" + disk + ",if=none,id=d0,format=raw,cache=" + cache,
                "-device", "virtio-blk-device,drive=d0"));
        Process peer = null;
        String vsockProblem = vhostVsockProblem();
        if (vsockProblem == null) {
            peer = startPythonPeer(o);
            if (peer == null) {
                vsockProblem = "the host-side AF_VSOCK peer (" + o.python() + " with socket.AF_VSOCK) did not start";
            }
        }
        if (vsockProblem == null) {
            qemu.addAll(List.of("-device", "vhost-vsock-device,guest-cid=" + GUEST_CID));
        } else {
            notes.add("vsock not measured: " + vsockProblem);
        }
        out.println("io: qemu: " + String.join(" ", qemu));
        Process p = new ProcessBuilder(qemu).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        CompletableFuture<Void> guestDone = new CompletableFuture<>();
        CompletableFuture<String> output = readAll(p.getInputStream(), out, guestDone);
        String text;
        try {
            try {
                guestDone.get(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                p.destroyForcibly().waitFor();
                throw new IllegalStateException("QEMU's guest did not finish within " + RUN_TIMEOUT + "; output:\n"
                        + tail(output.getNow("")));
            }
            // The guest's reboot (reboot=k) finds no keyboard controller on microvm and QEMU stays up: end it.
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroy();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                }
            }
            text = output.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("cannot read QEMU's output: " + e.getMessage(), e);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
        long peerBytes = -1;
        double peerSeconds = 0;
        if (peer != null) {
            String peerText;
            try {
                if (!peer.waitFor(10, TimeUnit.SECONDS)) {
                    peer.destroyForcibly();
                }
                peerText = new String(peer.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                peerText = "(its output was lost: " + e.getMessage() + ")"; // killed above: it never saw the guest
            } finally {
                peer.destroyForcibly();
            }
            Matcher m = PY_VSOCK.matcher(peerText);
            if (m.find()) {
                peerBytes = Long.parseLong(m.group(1));
                peerSeconds = Double.parseDouble(m.group(2));
            } else {
                notes.add("the Python vsock peer reported no stream: " + peerText.strip());
            }
        }
        double vsockMibS = vsockProblem == null ? vsockFigure(text, peerBytes, peerSeconds, o, notes) : Double.NaN;
        if (!text.contains("IO_SEQ_WRITE")) {
            throw new IllegalStateException("QEMU's guest printed no figures; output:\n" + tail(text));
        }
        Figures f = figures(text, o, vsockMibS, notes);
        out.printf(Locale.ROOT, "io: qemu: write %.1f MiB/s, read %.1f MiB/s, 4K reads %.0f IOPS, vsock %.1f MiB/s%n",
                f.writeMibS(), f.readMibS(), f.readIops(), f.vsockMibS());
        return f;
    }

    /** Why QEMU's vhost-vsock-device cannot work here, or null. */
    private static String vhostVsockProblem() {
        Path dev = Path.of("/dev/vhost-vsock");
        if (!Files.exists(dev)) {
            return "/dev/vhost-vsock does not exist (the host kernel has no vhost_vsock module loaded)";
        }
        if (!Files.isReadable(dev) || !Files.isWritable(dev)) {
            return "/dev/vhost-vsock is not readable and writable by this user";
        }
        return null;
    }

    /** A Python AF_VSOCK echo server for one connection: prints READY, then "VSOCK bytes seconds". */
    private static final String PYTHON_PEER = """
            import socket, sys, time
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.bind((socket.VMADDR_CID_ANY, int(sys.argv[1])))
            s.listen(1)
            print('READY', flush=True)
            c, _ = s.accept()
            t = time.monotonic(); n = 0
            while True:
                d = c.recv(262144)
                if not d:
                    break
                n += len(d)
                c.sendall(d)
            e = time.monotonic()
            c.shutdown(socket.SHUT_WR)
            print('VSOCK', n, e - t, flush=True)
            """;

    private static Process startPythonPeer(Options o) throws IOException, InterruptedException {
        Process peer;
        try {
            peer = new ProcessBuilder(o.python(), "-c", PYTHON_PEER, Integer.toString(VSOCK_PORT))
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            return null;
        }
        BufferedReader reader = new BufferedReader(new InputStreamReader(peer.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                return reader.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String line;
        try {
            line = first.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            line = null;
        }
        if (!"READY".equals(line)) {
            peer.destroyForcibly();
            return null;
        }
        return peer;
    }

    /** Collects QEMU's output; echoes the guest's progress lines as they come (a run takes minutes in the lab). */
    private static CompletableFuture<String> readAll(InputStream in, PrintStream out, CompletableFuture<Void> guestDone) {
        CompletableFuture<String> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name("bench-io-qemu-output").start(() -> {
            StringBuilder all = new StringBuilder();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    all.append(line).append('\n');
                    if (line.startsWith("flotilla-init: command exited")) {
                        guestDone.complete(null);
                    }
                    if (line.startsWith("IO_") || line.startsWith("OK ") || line.startsWith("VSOCK_")
                            || line.startsWith("vsock-echo") || line.startsWith("qemu")) {
                        out.println("io: qemu guest: " + line);
                    }
                }
            } catch (IOException e) {
                // QEMU was killed: what was read so far is the output
            }
            guestDone.complete(null);
            result.complete(all.toString());
        });
        return result;
    }

    static boolean supportsODirect(Path file) {
        try (FileChannel ignored = FileChannel.open(file, StandardOpenOption.READ, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** The stream's MiB/s, checked against the guest's own OK line; NaN with a note when it failed. */
    static double vsockFigure(String console, long hostBytes, double hostSeconds, Options o, List<String> notes) {
        Matcher ok = OK.matcher(console);
        if (!ok.find()) {
            notes.add("the guest's vsock-echo client did not report OK (console: "
                    + console.lines().filter(l -> l.contains("vsock")).reduce((a, b) -> b).orElse("no vsock line") + ")");
            return Double.NaN;
        }
        long guestBytes = Long.parseLong(ok.group(1));
        if (guestBytes != o.vsockBytes() || hostBytes != o.vsockBytes() || hostSeconds <= 0) {
            notes.add("vsock stream incomplete: guest checked " + guestBytes + " bytes, host peer saw " + hostBytes
                    + " of " + o.vsockBytes());
            return Double.NaN;
        }
        return hostBytes / (double) (1 << 20) / hostSeconds;
    }

    static Figures figures(String console, Options o, double vsockMibS, List<String> notes) {
        Map<String, double[]> dd = new LinkedHashMap<>();
        Matcher m = DD.matcher(console);
        while (m.find()) {
            double seconds = Double.parseDouble(m.group(3)) - Double.parseDouble(m.group(2));
            dd.put(m.group(1), new double[] {Long.parseLong(m.group(4)), seconds});
        }
        for (String key : List.of("IO_SEQ_WRITE", "IO_SEQ_READ", "IO_4K_READ")) {
            if (!dd.containsKey(key)) {
                throw new IllegalStateException("the guest's dd reported no success for " + key + "; console:\n" + tail(console));
            }
            if (dd.get(key)[1] <= 0.05) {
                throw new IllegalStateException(key + " took " + dd.get(key)[1] + " s, too short for /proc/uptime's 10 ms"
                        + " resolution: make the disk (--size-mib) or --small-reads larger");
            }
        }
        double[] w = dd.get("IO_SEQ_WRITE");
        double[] r = dd.get("IO_SEQ_READ");
        double[] s = dd.get("IO_4K_READ");
        if (w[0] != o.sizeMib() || r[0] != o.sizeMib() || s[0] != o.smallReads()) {
            throw new IllegalStateException("dd moved other block counts than asked (write " + (long) w[0] + ", read "
                    + (long) r[0] + ", 4K " + (long) s[0] + "); console:\n" + tail(console));
        }
        return new Figures(o.sizeMib() / w[1], o.sizeMib() / r[1], o.smallReads() / s[1], vsockMibS, notes);
    }

    private static String tail(String text) {
        return text.length() <= 4000 ? text : text.substring(text.length() - 4000);
    }
}
