package dev.flotilla.controlplane.ui;

import dev.flotilla.controlplane.testing.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The dashboard's access rules over plain HTTP: sessions, roles and the same-origin check on POSTs. */
@QuarkusTest
class UiAccessTest {

    private static String signIn(String token) {
        String session = RestAssured.given().redirects().follow(false).formParam("token", token)
                .formParam("next", "/ui/nodes").post("/ui/login")
                .then().statusCode(303).header("Location", containsString("/ui/nodes"))
                .header("Set-Cookie", containsString("HttpOnly")).extract().cookie(UiSessions.COOKIE);
        assertNotNull(session);
        return session;
    }

    @Test
    void page_withoutSession_redirectsToLoginWithTheWayBack() {
        RestAssured.given().redirects().follow(false).get("/ui/sandboxes?state=RUNNING")
                .then().statusCode(303).header("Location", containsString("/ui/login?next=%2Fui%2Fsandboxes%3Fstate%3DRUNNING"));
    }

    @Test
    void chartData_withoutSession_is401NotALoginPage() {
        RestAssured.given().redirects().follow(false).get("/ui/data/density?window=1h").then().statusCode(401);
    }

    @Test
    void login_joinToken_isRefusedWithTheReason() {
        RestAssured.given().formParam("token", Api.JOIN).post("/ui/login")
                .then().statusCode(401).body(containsString("cannot read the fleet"));
    }

    @Test
    void post_fromAnotherOrigin_isRefusedEvenWithASession() {
        String session = signIn(Api.ADMIN);
        RestAssured.given().redirects().follow(false).cookie(UiSessions.COOKIE, session)
                .header("Origin", "http://evil.example").post("/ui/nodes/any-node/cordon")
                .then().statusCode(403).body(containsString("another site"));
    }

    @Test
    void readOnlySession_mutatingPost_isForbidden() {
        String session = signIn(Api.READER);
        RestAssured.given().redirects().follow(false).cookie(UiSessions.COOKIE, session)
                .header("Origin", Api.baseUrl()).post("/ui/nodes/any-node/drain")
                .then().statusCode(403).body(containsString("lacks the WRITE scope"));
    }

    @Test
    void logout_endsTheSession() {
        String session = signIn(Api.ADMIN);
        RestAssured.given().redirects().follow(false).cookie(UiSessions.COOKIE, session).get("/ui/nodes").then().statusCode(200);

        RestAssured.given().redirects().follow(false).cookie(UiSessions.COOKIE, session).header("Origin", Api.baseUrl())
                .post("/ui/logout").then().statusCode(303);

        RestAssured.given().redirects().follow(false).cookie(UiSessions.COOKIE, session).get("/ui/nodes").then().statusCode(303);
    }

    @Test
    void chartWindow_unknown_isABadRequestNamingTheChoices() {
        String session = signIn(Api.READER);
        RestAssured.given().cookie(UiSessions.COOKIE, session).get("/ui/data/boot-times?window=1y")
                .then().statusCode(400).body("detail", equalTo("the request is invalid: window must be one of 15m, 1h, 6h, 24h, got '1y'"));
    }

    @Test
    void openApi_doesNotListDashboardPages() {
        RestAssured.get("/q/openapi?format=json").then().statusCode(200).body(not(containsString("/ui/")));
    }
}
