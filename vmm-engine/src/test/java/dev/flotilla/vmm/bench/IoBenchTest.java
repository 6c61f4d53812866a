package dev.flotilla.vmm.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoBenchTest {

    static IoBench.Options options() {
        return new IoBench.Options(Path.of("vmlinux"), Path.of("initrd"), 64, 4096, 1 << 20, 1, 256,
                BootBench.DEFAULT_CMDLINE, "qemu-system-x86_64", "python3", Optional.of(Path.of("/tmp")), Optional.empty(), 3, false, true);
    }

    static final String CONSOLE = """
            flotilla-init: running: u() { read t x < /proc/uptime; echo $t; }; a=$(u); dd ... && echo IO_SEQ_WRITE $a $(u)
            IO_SEQ_WRITE 2.00 4.00 64+0 records out
            IO_SEQ_READ 4.10 4.60 64+0 records out
            IO_4K_READ 5.00 37.00 4096+0 records out
            OK 1048576 0123abcd
            """;

    @Test
    void figures_fromTheGuestsUptimeLines_giveMibPerSecondAndIops() {
        IoBench.Figures f = IoBench.figures(CONSOLE, options(), 3.0, new ArrayList<>());
        assertEquals(32.0, f.writeMibS(), 1e-9);
        assertEquals(128.0, f.readMibS(), 1e-9);
        assertEquals(128.0, f.readIops(), 1e-9);
    }

    @Test
    void figures_shortTransfer_isRejectedNotMiscounted() {
        String console = CONSOLE.replace("IO_SEQ_READ 4.10 4.60 64+0", "IO_SEQ_READ 4.10 4.60 63+0");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> IoBench.figures(console, options(), 3.0, new ArrayList<>()));
        assertTrue(e.getMessage().contains("read 63"), e.getMessage());
    }

    @Test
    void figures_missingStep_failsWithTheConsole() {
        String console = CONSOLE.replace("IO_4K_READ 5.00 37.00 4096+0 records out\n", "dd: /dev/vda: I/O error\n");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> IoBench.figures(console, options(), 3.0, new ArrayList<>()));
        assertTrue(e.getMessage().contains("IO_4K_READ") && e.getMessage().contains("I/O error"), e.getMessage());
    }

    @Test
    void vsockFigure_hostSawFewerBytesThanTheGuestChecked_isNaNWithANote() {
        List<String> notes = new ArrayList<>();
        double v = IoBench.vsockFigure(CONSOLE, 1000, 1.0, options(), notes);
        assertTrue(Double.isNaN(v));
        assertTrue(notes.getFirst().contains("host peer saw 1000"), notes.toString());
    }

    @Test
    void vsockFigure_completeStream_isPayloadMibPerSecond() {
        assertEquals(2.0, IoBench.vsockFigure(CONSOLE, 1 << 20, 0.5, options(), new ArrayList<>()), 1e-9);
    }

    @Test
    void guestCommand_travelsInsideDoubleQuotes_soHasNone() {
        assertFalse(IoBench.guestCommand(options()).contains("\""));
    }

    @Test
    void pairedRatios_medianOfEachRoundsOwnRatio_notRatioOfMedians() {
        // Round 2 ran in a slow lab for both: the ratios of the rounds are 0.5, 2, 2 -> median 2, while
        // the medians' ratio would be 20 / 40 = 0.5.
        IoBench.Figures r = IoBench.pairedRatios(List.of(
                new IoBench.Round(new IoBench.Figures(20, 1, 1, Double.NaN, List.of()), new IoBench.Figures(40, 1, 2, 1, List.of())),
                new IoBench.Round(new IoBench.Figures(10, 1, 1, 3, List.of()), new IoBench.Figures(5, 1, 1, 1, List.of())),
                new IoBench.Round(new IoBench.Figures(100, 1, 1, 1, List.of()), new IoBench.Figures(50, 1, 1, 1, List.of()))));
        assertEquals(2.0, r.writeMibS(), 1e-9);
        assertEquals(1.0, r.readIops(), 1e-9, "median of 0.5, 1, 1");
        assertEquals(2.0, r.vsockMibS(), 1e-9, "the round without a figure is left out: median of 3 and 1");
        assertTrue(Double.isNaN(IoBench.pairedRatios(List.of()).writeMibS()));
    }

    @Test
    void defaultDirectory_outsideTheLab_isTheTemporaryDirectory() {
        assertEquals(Path.of(System.getProperty("java.io.tmpdir")), IoBench.defaultDirectory(false));
    }

    @Test
    void median_perFigure_skipsFiguresARunCouldNotMeasure() {
        IoBench.Figures m = IoBench.median(List.of(
                new IoBench.Figures(10, 200, 300, Double.NaN, List.of("first")),
                new IoBench.Figures(30, 100, 100, 4, List.of()),
                new IoBench.Figures(20, 300, 200, 6, List.of())));
        assertEquals(20, m.writeMibS(), 1e-9);
        assertEquals(200, m.readMibS(), 1e-9);
        assertEquals(200, m.readIops(), 1e-9);
        assertEquals(5, m.vsockMibS(), 1e-9, "two vsock figures: their mean");
        assertEquals(List.of("first"), m.notes());
    }
}
