package dev.flotilla.controlplane.ui;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LoginPagesTest {

    @Test
    void safeNext_dashboardPath_isKept() {
        assertEquals("/ui/sandboxes?state=RUNNING", LoginPages.safeNext("/ui/sandboxes?state=RUNNING"));
    }

    @Test
    void safeNext_otherSiteOrOtherPath_fallsBackToTheOverview() {
        assertEquals("/ui", LoginPages.safeNext("//evil.example/ui"));
        assertEquals("/ui", LoginPages.safeNext("https://evil.example/ui"));
        assertEquals("/ui", LoginPages.safeNext("/api/v1/sandboxes"));
        assertEquals("/ui", LoginPages.safeNext("/ui\\..\\x"));
        assertEquals("/ui", LoginPages.safeNext(null));
    }

    @Test
    void safeNext_loginOrEventStream_fallsBackToTheOverview() {
        assertEquals("/ui", LoginPages.safeNext("/ui/login"));
        assertEquals("/ui", LoginPages.safeNext("/ui/events"));
    }
}
