package dev.flotilla.cri.registry;

import java.net.URI;

/**
 * One place to pull from: a mirror or the registry itself. Pulls try endpoints in order and move on when one
 * fails to answer or lacks the image; credentials from the kubelet are only sent to the registry itself.
 */
public record RegistryEndpoint(URI baseUrl, boolean mirror) {

    public boolean plainHttp() {
        return "http".equals(baseUrl.getScheme());
    }
}
