package dev.flotilla.controlplane.kubernetes;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.controlplane.api.Labels;
import dev.flotilla.controlplane.config.FlotillaConfig;
import dev.flotilla.controlplane.placement.PlacementEngine;
import dev.flotilla.controlplane.placement.PlacementOutcome;
import dev.flotilla.controlplane.sandbox.RestartPolicy;
import dev.flotilla.controlplane.sandbox.SandboxEntity;
import dev.flotilla.controlplane.sandbox.SandboxService;
import dev.flotilla.controlplane.sandbox.SandboxSpec;
import dev.flotilla.controlplane.sandbox.SandboxStates;
import dev.flotilla.controlplane.sandbox.TolerationSpec;
import io.agroal.api.AgroalDataSource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Optional Kubernetes mode ({@code flotilla.kubernetes.enabled=true}): every {@code MicroVM} custom resource
 * (CRD in {@code src/main/kubernetes/microvm-crd.yaml}) becomes a sandbox, and the sandbox's state is written back
 * into the resource's status. Level-triggered: each pass compares all MicroVMs with all sandboxes it manages, so a
 * missed event or a restart of the control plane heals on the next pass. A MicroVM's spec is read once, when its
 * sandbox is created (sandbox specs are immutable): changing it later is reported in the status, not applied.
 *
 * <p>Several control-plane replicas: a pass runs only while its replica holds a PostgreSQL advisory lock
 * ({@link #PASS_LOCK}, transaction-level, on a connection of its own). Passes of two replicas therefore never overlap,
 * and each sees the sandboxes the previous one created, so no MicroVM gets two. A replica that dies mid-pass drops
 * its connection, and PostgreSQL frees the lock with it.
 */
@Singleton
public class MicroVmController {
    private static final Logger LOG = Logger.getLogger(MicroVmController.class);
    public static final ResourceDefinitionContext MICROVM = new ResourceDefinitionContext.Builder()
            .withGroup("flotilla.dev").withVersion("v1alpha1").withKind("MicroVM").withPlural("microvms")
            .withNamespaced(true).build();
    /** Label on sandboxes created from a MicroVM: the resource's uid. */
    public static final String UID_LABEL = "flotilla.dev/microvm-uid";
    public static final String MANAGED_LABEL = "flotilla.dev/managed-by";
    /** pg_advisory_lock key of a reconcile pass: "FLOTILLA" in ASCII, as a number no other lock here uses. */
    public static final long PASS_LOCK = 0x464C4F54494C4C41L;

    @Inject
    FlotillaConfig config;
    @Inject
    Instance<KubernetesClient> clients;
    @Inject
    PlacementEngine placement;
    @Inject
    SandboxService sandboxes;
    @Inject
    ObjectMapper json;
    @Inject
    Validator validator;
    @Inject
    AgroalDataSource dataSource;

    @Scheduled(every = "${flotilla.kubernetes.interval:2s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!config.kubernetes().enabled()) {
            return;
        }
        try (Connection lock = dataSource.getConnection()) {
            // A transaction-level lock: it ends with the rollback below, or with the connection, whatever happens.
            lock.setAutoCommit(false);
            try {
                if (!tryPassLock(lock)) {
                    LOG.debug("another control-plane replica is reconciling MicroVM resources; skipping this pass");
                    return;
                }
                reconcile();
            } finally {
                lock.rollback();
                lock.setAutoCommit(true);
            }
        } catch (SQLException e) {
            LOG.warnf("cannot take the MicroVM controller's lock in PostgreSQL (retried next pass): %s", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (KubernetesClientException e) {
            LOG.warnf("reconciling MicroVM resources failed (retried next pass): %s", e.getMessage());
        } catch (RuntimeException e) {
            LOG.errorf(e, "reconciling MicroVM resources failed (retried next pass)");
        }
    }

    private static boolean tryPassLock(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT pg_try_advisory_xact_lock(?)")) {
            statement.setLong(1, PASS_LOCK);
            try (ResultSet result = statement.executeQuery()) {
                return result.next() && result.getBoolean(1);
            }
        }
    }

    /** One level-triggered pass over every MicroVM and every sandbox made from one. */
    public void reconcile() throws InterruptedException {
        KubernetesClient client = clients.get();
        var resources = client.genericKubernetesResources(MICROVM);
        List<GenericKubernetesResource> microVms = config.kubernetes().namespace()
                .map(namespace -> resources.inNamespace(namespace).list().getItems())
                .orElseGet(() -> resources.inAnyNamespace().list().getItems());

        Map<String, SandboxEntity> managed = new HashMap<>();
        for (SandboxEntity sandbox : QuarkusTransaction.requiringNew().call(() -> SandboxEntity.<SandboxEntity>list(
                "select s from SandboxEntity s where s.desiredState <> ?1", SandboxStates.DELETED))) {
            String uid = sandbox.labels == null ? null : sandbox.labels.get(UID_LABEL);
            if (uid != null && "kubernetes".equals(sandbox.labels.get(MANAGED_LABEL))) {
                managed.put(uid, sandbox);
            }
        }
        Set<String> seen = new TreeSet<>();
        for (GenericKubernetesResource microVm : microVms) {
            String uid = microVm.getMetadata().getUid();
            seen.add(uid);
            if (microVm.getMetadata().getDeletionTimestamp() != null) {
                continue;
            }
            SandboxEntity sandbox = managed.get(uid);
            Map<String, Object> status;
            if (sandbox == null) {
                status = create(microVm);
            } else {
                status = status(sandbox, microVm);
            }
            writeStatus(client, microVm, status);
        }
        for (Map.Entry<String, SandboxEntity> entry : managed.entrySet()) {
            if (!seen.contains(entry.getKey())) {
                LOG.infof("MicroVM %s is gone: deleting sandbox %s", entry.getKey(), entry.getValue().name);
                try {
                    sandboxes.delete(entry.getValue().id.toString());
                } catch (RuntimeException e) {
                    LOG.debugf("sandbox %s already gone: %s", entry.getValue().name, e.getMessage());
                }
            }
        }
    }

    private Map<String, Object> create(GenericKubernetesResource microVm) throws InterruptedException {
        SandboxSpec spec;
        try {
            spec = spec(microVm);
        } catch (IllegalArgumentException e) {
            return invalid(microVm, e.getMessage());
        }
        Set<ConstraintViolation<SandboxSpec>> violations = validator.validate(spec);
        if (!violations.isEmpty()) {
            StringBuilder message = new StringBuilder("invalid spec:");
            violations.stream().map(v -> " " + v.getPropertyPath() + " " + v.getMessage()).sorted().forEach(message::append);
            return invalid(microVm, message.toString());
        }
        UUID id = UUID.randomUUID();
        try {
            PlacementOutcome outcome = placement.placeNew(id, spec.normalized()).get(30, TimeUnit.SECONDS);
            Map<String, Object> status = new LinkedHashMap<>();
            status.put("sandboxId", id.toString());
            status.put("observedGeneration", microVm.getMetadata().getGeneration());
            switch (outcome) {
                case PlacementOutcome.Placed placed -> {
                    status.put("phase", SandboxStates.SCHEDULED);
                    status.put("node", placed.nodeName());
                }
                case PlacementOutcome.Pending pending -> {
                    status.put("phase", SandboxStates.PENDING);
                    status.put("message", pending.reason());
                }
                case PlacementOutcome.NameTaken taken -> {
                    return invalid(microVm, "a sandbox named '" + taken.name() + "' already exists and is not managed by this MicroVM");
                }
                case PlacementOutcome.Skipped skipped -> {
                    return invalid(microVm, "placement skipped the sandbox unexpectedly");
                }
            }
            return status;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return invalid(microVm, "creating the sandbox failed: " + e.getMessage());
        }
    }

    private Map<String, Object> status(SandboxEntity sandbox, GenericKubernetesResource microVm) {
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("phase", sandbox.observedState);
        if (sandbox.nodeId != null) {
            status.put("node", sandbox.lastNodeName);
        }
        status.put("sandboxId", sandbox.id.toString());
        Object previous = currentStatus(microVm).get("observedGeneration");
        Long generation = microVm.getMetadata().getGeneration();
        String message = sandbox.message;
        if (previous != null && generation != null && !Objects.equals(((Number) previous).longValue(), generation)) {
            message = "spec changed after creation; sandbox specs are immutable: delete and recreate the MicroVM to apply it";
            status.put("observedGeneration", previous);
        } else {
            status.put("observedGeneration", generation);
        }
        if (message != null) {
            status.put("message", message);
        }
        return status;
    }

    private void writeStatus(KubernetesClient client, GenericKubernetesResource microVm, Map<String, Object> status) {
        if (status.equals(currentStatus(microVm))) {
            return;
        }
        microVm.setAdditionalProperty("status", status);
        client.genericKubernetesResources(MICROVM).inNamespace(microVm.getMetadata().getNamespace())
                .resource(microVm).updateStatus();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> currentStatus(GenericKubernetesResource microVm) {
        Object status = microVm.getAdditionalProperties().get("status");
        return status instanceof Map<?, ?> map ? (Map<String, Object>) map : Map.of();
    }

    private static Map<String, Object> invalid(GenericKubernetesResource microVm, String message) {
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("phase", "Invalid");
        status.put("message", message);
        status.put("observedGeneration", microVm.getMetadata().getGeneration());
        return status;
    }

    /** The sandbox spec a MicroVM asks for; labels carry the resource's identity. */
    SandboxSpec spec(GenericKubernetesResource microVm) {
        Object rawSpec = microVm.getAdditionalProperties().get("spec");
        if (!(rawSpec instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("spec is missing");
        }
        MicroVmSpec spec = json.convertValue(rawSpec, MicroVmSpec.class);
        Map<String, String> labels = new LinkedHashMap<>();
        if (microVm.getMetadata().getLabels() != null) {
            microVm.getMetadata().getLabels().forEach((key, value) -> {
                if (Labels.invalid(Map.of(key, value)) == null) {
                    labels.put(key, value);
                }
            });
        }
        labels.put(MANAGED_LABEL, "kubernetes");
        labels.put(UID_LABEL, microVm.getMetadata().getUid());
        labels.put("flotilla.dev/namespace", microVm.getMetadata().getNamespace());
        return new SandboxSpec(sandboxName(microVm.getMetadata().getNamespace(), microVm.getMetadata().getName()),
                spec.image(), spec.command(), spec.vcpus() == null ? 1 : spec.vcpus(),
                spec.memoryMiB() == null ? 256L : spec.memoryMiB(), labels, spec.nodeSelector(), spec.tolerations(),
                spec.antiAffinity(), spec.restartPolicy() == null ? RestartPolicy.ALWAYS : spec.restartPolicy());
    }

    /** "k8s-NAMESPACE-NAME", shortened with a hash when longer than a DNS label allows. */
    static String sandboxName(String namespace, String name) {
        String full = ("k8s-" + namespace + "-" + name).toLowerCase().replaceAll("[^a-z0-9-]", "-");
        if (full.length() <= 63) {
            return full;
        }
        try {
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(full.getBytes(StandardCharsets.UTF_8))).substring(0, 10);
            return full.substring(0, 52) + "-" + hash;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The spec section of a MicroVM, as the CRD schema defines it. */
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties(ignoreUnknown = true)
    record MicroVmSpec(String image, List<String> command, Integer vcpus, Long memoryMiB, Map<String, String> nodeSelector,
                       Map<String, String> antiAffinity, List<TolerationSpec> tolerations, RestartPolicy restartPolicy) {
    }
}
