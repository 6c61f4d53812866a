package dev.flotilla.controlplane.testing;

import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Shared helpers for the @QuarkusTest classes: tokens from the test profile and polling. */
public final class Api {
    public static final String ADMIN = "test-admin-token";
    public static final String READER = "test-reader-token";
    public static final String JOIN = "test-join-token";

    private Api() {
    }

    public static RequestSpecification as(String token) {
        return RestAssured.given().header("Authorization", "Bearer " + token).contentType("application/json");
    }

    public static String baseUrl() {
        return "http://localhost:" + RestAssured.port;
    }

    /** Polls until the condition holds, failing with the description after the timeout. */
    public static void eventually(Duration timeout, String description, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + description);
    }
}
