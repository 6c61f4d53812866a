package dev.flotilla.node.cri;

import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerNotFoundException;
import dev.flotilla.cri.CriException;
import dev.flotilla.cri.CriException.Reason;
import dev.flotilla.images.ImageException;
import dev.flotilla.images.ImageNotFoundException;
import dev.flotilla.images.IntegrityException;
import dev.flotilla.images.RegistryException;
import dev.flotilla.images.UnsafeLayerException;
import dev.flotilla.images.UnsupportedImageException;
import dev.flotilla.node.api.ApiException;

/** The agent's own failures as CRI reasons, keeping their messages (they already name the object and the cause). */
final class CriErrors {
    private CriErrors() {}

    /** A refusal of the sandbox manager or container runtime (HTTP-style status) for a CRI call. */
    static CriException from(ApiException e) {
        Reason reason = switch (e.status()) {
            case 400, 422 -> Reason.FAILED_PRECONDITION;
            case 404 -> Reason.NOT_FOUND;
            // 409 from admission: the node's free vCPUs, memory or VM slots do not fit the pod now.
            case 409 -> Reason.RESOURCE_EXHAUSTED;
            case 501 -> Reason.UNIMPLEMENTED;
            case 503 -> Reason.UNAVAILABLE;
            default -> Reason.INTERNAL;
        };
        return new CriException(reason, e.getMessage(), e);
    }

    /** An image store failure. */
    static CriException from(ImageException e) {
        Reason reason;
        if (e instanceof ImageNotFoundException) {
            reason = Reason.NOT_FOUND;
        } else if (e instanceof RegistryException r) {
            // No answer or a server error: the registry may come back. 401/403/404: credentials or name are wrong.
            reason = r.status() < 0 || r.status() >= 500 ? Reason.UNAVAILABLE : Reason.NOT_FOUND;
        } else if (e instanceof UnsupportedImageException || e instanceof IntegrityException
                || e instanceof UnsafeLayerException) {
            reason = Reason.FAILED_PRECONDITION;
        } else {
            reason = Reason.INTERNAL;
        }
        return new CriException(reason, e.getMessage(), e);
    }

    /** A guest agent failure for a container. */
    static CriException from(ContainerException e) {
        if (e instanceof ContainerNotFoundException) {
            return new CriException(Reason.NOT_FOUND, e.getMessage(), e);
        }
        return new CriException(Reason.INTERNAL, e.getMessage(), e);
    }

    static CriException interrupted(String what) {
        Thread.currentThread().interrupt();
        return new CriException(Reason.UNAVAILABLE, what + " was interrupted: the node agent is shutting down");
    }
}
