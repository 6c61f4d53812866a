package dev.flotilla.tests.linux;

import dev.flotilla.cri.streaming.SpdyTestClient;

import java.util.List;
import java.util.Map;

/**
 * kubectl port-forward's side of one forwarded connection, as the kubelet relays it to the runtime's URL: SPDY/3.1
 * with portforward.k8s.io, an error stream and a data stream for one port; sends {@code request}, half-closes, and
 * returns what came back on the data stream (and any error text) once the server closed it.
 */
final class PortForwardClient {
    private PortForwardClient() {
    }

    static String exchange(String url, int port, String request) throws Exception {
        try (SpdyTestClient client = SpdyTestClient.connect(url, List.of("portforward.k8s.io"))) {
            Map<String, String> headers = Map.of("port", Integer.toString(port), "requestid", "0");
            int error = client.open(with(headers, "error"));
            int data = client.open(with(headers, "data"));
            client.send(data, request, true);
            client.awaitEnd(data, 60);
            String failure = client.received(error);
            return client.received(data) + (failure.isEmpty() ? "" : " [error stream: " + failure + "]");
        }
    }

    private static Map<String, String> with(Map<String, String> headers, String streamType) {
        java.util.Map<String, String> all = new java.util.HashMap<>(headers);
        all.put("streamtype", streamType);
        return all;
    }
}
