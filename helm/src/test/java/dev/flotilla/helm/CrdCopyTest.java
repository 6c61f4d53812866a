package dev.flotilla.helm;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The chart ships the control plane's CRD (helm installs crds/ before templates) as an exact copy. */
class CrdCopyTest {

    @Test
    void chartCrd_isIdenticalToTheControlPlaneCrd() throws IOException {
        Path source = Helm.home().resolve("control-plane/src/main/kubernetes/microvm-crd.yaml");
        Path copy = Helm.chart().resolve("crds/microvm-crd.yaml");
        assertEquals(Files.readString(source), Files.readString(copy),
                "helm/flotilla/crds/microvm-crd.yaml differs from " + source + ": cp " + source + " " + copy);
    }
}
