package dev.flotilla.node;

import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.fail;

/** RestAssured with the test token, and a poll for sandbox states. */
public final class Api {
    public static final String TOKEN = "test-token";

    private Api() {
    }

    public static RequestSpecification given() {
        return RestAssured.given().header("Authorization", "Bearer " + TOKEN).contentType(ContentType.JSON);
    }

    /** Polls GET path until its "state" is {@code state}; fails with the last body after {@code timeout}. */
    public static ValidatableResponse awaitState(String path, String state, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = null;
        while (System.nanoTime() < deadline) {
            var r = given().get(path);
            last = r.asString();
            if (r.statusCode() == 200 && state.equals(r.path("state"))) {
                return r.then();
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        fail("sandbox at " + path + " did not reach " + state + " within " + timeout + "; last answer: " + last);
        return null;
    }
}
