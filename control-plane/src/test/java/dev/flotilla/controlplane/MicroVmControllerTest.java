package dev.flotilla.controlplane;

import io.agroal.api.AgroalDataSource;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;

import dev.flotilla.contract.v1.NodeCapacity;
import dev.flotilla.controlplane.kubernetes.MicroVmController;
import dev.flotilla.controlplane.testing.Api;
import dev.flotilla.controlplane.testing.FakeNodeAgent;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** MicroVM custom resources against fabric8's mock API server in CRUD mode, with a real HTTP node agent. */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@TestProfile(MicroVmControllerTest.KubernetesMode.class)
class MicroVmControllerTest {
    @Inject
    AgroalDataSource dataSource;
    private static final String NAMESPACE = "flotilla-test";
    private static final Duration WAIT = Duration.ofSeconds(20);

    public static class KubernetesMode implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("flotilla.kubernetes.enabled", "true", "flotilla.kubernetes.namespace", NAMESPACE,
                    "flotilla.kubernetes.interval", "300ms");
        }
    }

    @KubernetesTestServer
    KubernetesServer server;

    private GenericKubernetesResource microVm(String name, Map<String, Object> spec) {
        GenericKubernetesResource resource = new GenericKubernetesResource();
        resource.setApiVersion("flotilla.dev/v1alpha1");
        resource.setKind("MicroVM");
        resource.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NAMESPACE)
                .withLabels(Map.of("app", "demo")).build());
        resource.setAdditionalProperty("spec", spec);
        return resource;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> status(KubernetesClient client, String name) {
        GenericKubernetesResource resource = client.genericKubernetesResources(MicroVmController.MICROVM)
                .inNamespace(NAMESPACE).withName(name).get();
        Object status = resource == null ? null : resource.getAdditionalProperties().get("status");
        return status == null ? Map.of() : (Map<String, Object>) status;
    }

    @Test
    void microVm_becomesRunningSandbox_statusWrittenBack_andDeletionRemovesIt() throws Exception {
        KubernetesClient client = server.getClient();
        try (FakeNodeAgent node = FakeNodeAgent.isolated("k8s-node-a", Api.baseUrl(), new NodeCapacity(4, 4096, 10), Map.of())) {
            node.register(Api.JOIN);
            client.genericKubernetesResources(MicroVmController.MICROVM).inNamespace(NAMESPACE)
                    .resource(microVm("web", Map.of("image", "docker.io/library/nginx:1.27", "vcpus", 1, "memoryMiB", 256,
                            "tolerations", List.of(FakeNodeAgent.toleration(node.name()))))).create();

            Api.eventually(WAIT, "the MicroVM status says RUNNING on the node",
                    () -> "RUNNING".equals(status(client, "web").get("phase")));
            Map<String, Object> status = status(client, "web");
            assertEquals(node.name(), status.get("node"));
            String sandboxId = (String) status.get("sandboxId");
            Api.as(Api.READER).get("/api/v1/sandboxes/" + sandboxId).then().statusCode(200)
                    .body("name", org.hamcrest.Matchers.equalTo("k8s-flotilla-test-web"))
                    .body("labels.app", org.hamcrest.Matchers.equalTo("demo"));
            Api.eventually(WAIT, "the node runs the VM", () -> node.vms().containsKey(sandboxId));

            client.genericKubernetesResources(MicroVmController.MICROVM).inNamespace(NAMESPACE).withName("web").delete();

            Api.eventually(WAIT, "the sandbox is deleted",
                    () -> Api.as(Api.READER).get("/api/v1/sandboxes/" + sandboxId).statusCode() == 404);
            Api.eventually(WAIT, "the VM is removed from the node", () -> node.vms().isEmpty());
        }
    }

    @Test
    void microVm_invalidSpec_getsInvalidStatusWithReason() throws Exception {
        KubernetesClient client = server.getClient();
        client.genericKubernetesResources(MicroVmController.MICROVM).inNamespace(NAMESPACE)
                .resource(microVm("broken", Map.of("vcpus", 0))).create();

        Api.eventually(WAIT, "the MicroVM is marked Invalid", () -> "Invalid".equals(status(client, "broken").get("phase")));
        String message = (String) status(client, "broken").get("message");
        org.junit.jupiter.api.Assertions.assertTrue(message.contains("image") && message.contains("vcpus"), message);
    }

    @Test
    void whileAnotherReplicaHoldsThePassLock_thisOneLeavesMicroVmsAlone() throws Exception {
        KubernetesClient client = server.getClient();
        try (Connection otherReplica = dataSource.getConnection()) {
            otherReplica.setAutoCommit(false);
            try (PreparedStatement lock = otherReplica.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                lock.setLong(1, MicroVmController.PASS_LOCK);
                lock.execute();
            }
            client.genericKubernetesResources(MicroVmController.MICROVM).inNamespace(NAMESPACE)
                    .resource(microVm("waits", Map.of("vcpus", 0))).create();
            Thread.sleep(2_000); // several passes of 300 ms
            org.junit.jupiter.api.Assertions.assertEquals(Map.of(), status(client, "waits"),
                    "no pass ran while another replica held the lock");
            otherReplica.rollback();
        }
        Api.eventually(WAIT, "the next pass, once the lock is free", () -> "Invalid".equals(status(client, "waits").get("phase")));
    }
}
