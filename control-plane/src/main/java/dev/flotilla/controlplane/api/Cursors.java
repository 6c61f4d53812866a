package dev.flotilla.controlplane.api;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** Opaque keyset-pagination cursors: the last row's sequence number, base64url-encoded. */
public final class Cursors {
    private Cursors() {
    }

    public static String encode(long lastSeq) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(("s" + lastSeq).getBytes(StandardCharsets.US_ASCII));
    }

    public static long decode(String cursor) {
        if (cursor == null || cursor.isEmpty()) {
            return 0;
        }
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (!text.startsWith("s")) {
                throw new IllegalArgumentException(text);
            }
            return Long.parseLong(text.substring(1));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("cursor", "is not a cursor returned by this API");
        }
    }
}
