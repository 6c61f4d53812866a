package dev.flotilla.node.cri;

import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerNotFoundException;
import dev.flotilla.cri.CriException.Reason;
import dev.flotilla.images.ImageException;
import dev.flotilla.images.ImageNotFoundException;
import dev.flotilla.images.RegistryException;
import dev.flotilla.images.UnsupportedImageException;
import dev.flotilla.node.api.ApiException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CriErrorsTest {

    @Test
    void registryFailures_splitIntoRetryableAndNot() {
        assertEquals(Reason.UNAVAILABLE, CriErrors.from(new RegistryException("no answer", new java.io.IOException())).reason());
        assertEquals(Reason.UNAVAILABLE, CriErrors.from(new RegistryException("bad gateway", 502)).reason());
        assertEquals(Reason.NOT_FOUND, CriErrors.from(new RegistryException("unauthorized", 401)).reason());
        assertEquals(Reason.NOT_FOUND, CriErrors.from(new ImageNotFoundException("no such image")).reason());
        assertEquals(Reason.FAILED_PRECONDITION, CriErrors.from(new UnsupportedImageException("arm64 only")).reason());
        assertEquals(Reason.INTERNAL, CriErrors.from(new ImageException("disk full")).reason());
    }

    @Test
    void agentRefusals_keepTheirMeaning() {
        assertEquals(Reason.RESOURCE_EXHAUSTED, CriErrors.from(new ApiException(409, "does not fit")).reason());
        assertEquals(Reason.FAILED_PRECONDITION, CriErrors.from(new ApiException(422, "Linux on PVM")).reason());
        assertEquals(Reason.UNAVAILABLE, CriErrors.from(new ApiException(503, "shutting down")).reason());
        assertEquals(Reason.UNIMPLEMENTED, CriErrors.from(new ApiException(501, "containers off")).reason());
        assertEquals("does not fit", CriErrors.from(new ApiException(409, "does not fit")).getMessage());
    }

    @Test
    void containerFailures_notFoundOrInternal() {
        assertEquals(Reason.NOT_FOUND, CriErrors.from(new ContainerNotFoundException("gone")).reason());
        assertEquals(Reason.INTERNAL, CriErrors.from(new ContainerException("agent refused")).reason());
    }
}
