package dev.flotilla.controlplane.ui;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chart time series on the real database: the boot-time trigger and the density sampler. */
@QuarkusTest
class FleetSeriesDatabaseTest {
    @Inject
    FleetSeries series;
    @Inject
    AgroalDataSource dataSource;

    private long count(String sql, Object parameter) throws Exception {
        try (Connection connection = dataSource.getConnection(); PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setObject(1, parameter);
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        }
    }

    @Test
    void bootTime_reportedInAHeartbeat_isKeptAfterTheSandboxIsDeleted() throws Exception {
        String nodeName = "series-" + UUID.randomUUID().toString().substring(0, 8);
        try (FakeNodeAgent node = FakeNodeAgent.isolated(nodeName, Api.baseUrl(), new NodeCapacity(4, 4096, 10), Map.of())) {
            node.register(Api.JOIN);
            String id = Api.as(Api.ADMIN).body(Map.of("name", "boot-" + nodeName, "image", "busybox", "vcpus", 2,
                            "memoryMiB", 64, "tolerations", List.of(FakeNodeAgent.toleration(nodeName))))
                    .post("/api/v1/sandboxes").then().statusCode(201).extract().path("id");
            Api.eventually(Duration.ofSeconds(30), "a heartbeat reported the boot time", () ->
                    Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().path("bootTimeMillis") != null);

            Api.as(Api.ADMIN).delete("/api/v1/sandboxes/" + id).then().statusCode(202);
            Api.eventually(Duration.ofSeconds(30), "the sandbox is gone", () ->
                    Api.as(Api.READER).get("/api/v1/sandboxes/" + id).then().extract().statusCode() == 404);

            // FakeNodeAgent reports 42 ms + vCPUs as the boot time.
            assertEquals(44, count("SELECT millis FROM boot_time_sample WHERE sandbox_id = ?", UUID.fromString(id)));
            assertTrue(series.bootTimes(Duration.ofHours(1)).count() >= 1);
        }
    }

    @Test
    void sampleNow_readyNode_getsARowWithItsReportedUse() throws Exception {
        String nodeName = "sample-" + UUID.randomUUID().toString().substring(0, 8);
        try (FakeNodeAgent node = FakeNodeAgent.isolated(nodeName, Api.baseUrl(), new NodeCapacity(4, 4096, 10), Map.of())) {
            node.register(Api.JOIN);

            series.sampleNow();

            assertTrue(count("SELECT count(*) FROM node_sample WHERE node_name = ?", nodeName) >= 1);
            FleetSeries.Density density = series.density(Duration.ofMinutes(15));
            assertTrue(density.nodesSampled() >= 1);
            assertEquals(density.times().size(), density.meanVmsPerNode().size());
        }
    }
}
