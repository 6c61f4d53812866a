package dev.flotilla.helm;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.node.v1.RuntimeClass;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the chart renders, read back through the fabric8 Kubernetes model classes. */
class RenderedObjectsIT {
    /** Kinds without a fabric8 model class in our dependencies (Prometheus Operator's). */
    private static final Set<String> GENERIC_KINDS = Set.of("ServiceMonitor");

    private static List<HasMetadata> render(String valueSet) {
        return Manifests.parse(Helm.template(GoldenFiles.values(valueSet)));
    }

    @TestFactory
    Stream<DynamicTest> everyValueSet_everyObject_parsesIntoItsModelClassWithoutUnknownFields() {
        return GoldenFiles.names().stream().map(name -> DynamicTest.dynamicTest(name, () -> {
            List<HasMetadata> objects = render(name);
            assertTrue(objects.size() >= 5, name + " rendered only " + objects.size() + " objects");
            for (HasMetadata object : objects) {
                String id = object.getKind() + "/" + object.getMetadata().getName();
                if (object instanceof GenericKubernetesResource) {
                    assertTrue(GENERIC_KINDS.contains(object.getKind()), id + " has no fabric8 model class: wrong apiVersion or kind?");
                    continue;
                }
                assertEquals(List.of(), Manifests.unknownFields(object), id + " has fields its model does not know");
            }
        }));
    }

    @Test
    void defaults_controlPlane_probesQuarkusHealthOnItsPort() {
        Deployment deployment = Manifests.one(render("defaults"), Deployment.class);
        Container container = deployment.getSpec().getTemplate().getSpec().getContainers().getFirst();
        assertEquals(8480, container.getPorts().getFirst().getContainerPort());
        assertEquals("/q/health/live", container.getLivenessProbe().getHttpGet().getPath());
        assertEquals("/q/health/ready", container.getReadinessProbe().getHttpGet().getPath());
        assertEquals("/q/health/started", container.getStartupProbe().getHttpGet().getPath());
    }

    @Test
    void defaults_controlPlane_connectsToBundledPostgresqlWithGeneratedPassword() {
        List<HasMetadata> objects = render("defaults");
        Map<String, EnvVar> env = env(Manifests.one(objects, Deployment.class));
        StatefulSet postgres = Manifests.one(objects, StatefulSet.class);
        assertEquals("jdbc:postgresql://" + postgres.getMetadata().getName() + ":5432/flotilla",
                env.get("QUARKUS_DATASOURCE_JDBC_URL").getValue());
        String secretName = env.get("QUARKUS_DATASOURCE_PASSWORD").getValueFrom().getSecretKeyRef().getName();
        Secret secret = secret(objects, secretName);
        assertEquals(40, decode(secret, "password").length());
        assertEquals(secretName, postgres.getSpec().getTemplate().getSpec().getContainers().getFirst().getEnv().stream()
                .filter(e -> e.getName().equals("POSTGRES_PASSWORD")).findFirst().orElseThrow()
                .getValueFrom().getSecretKeyRef().getName());
    }

    @Test
    void externalDatabase_controlPlane_readsJdbcSettingsFromTheDatabaseSecret() {
        List<HasMetadata> objects = render("external-database");
        assertTrue(Manifests.ofType(objects, StatefulSet.class).isEmpty(), "no bundled PostgreSQL with mode external");
        Map<String, EnvVar> env = env(Manifests.one(objects, Deployment.class));
        String secretName = env.get("QUARKUS_DATASOURCE_JDBC_URL").getValueFrom().getSecretKeyRef().getName();
        Secret secret = secret(objects, secretName);
        assertEquals("jdbc:postgresql://db.example.internal:5432/flotilla?sslmode=verify-full", decode(secret, "jdbc-url"));
        assertEquals("flotilla", decode(secret, "username"));
        assertEquals("s3cret-from-values", decode(secret, "password"));
        assertEquals(secretName, env.get("QUARKUS_DATASOURCE_PASSWORD").getValueFrom().getSecretKeyRef().getName());
    }

    @Test
    void externalDatabase_tokensFromValues_landInTheAuthSecret() {
        List<HasMetadata> objects = render("external-database");
        Map<String, EnvVar> env = env(Manifests.one(objects, Deployment.class));
        Secret auth = secret(objects, env.get("FLOTILLA_AUTH_ADMIN_TOKENS").getValueFrom().getSecretKeyRef().getName());
        assertEquals("admin-token-0123456789abcdef", decode(auth, "admin-tokens"));
        assertEquals("reader-token-0123456789abcdef,dashboard-token-0123456789ab", decode(auth, "read-only-tokens"));
        assertEquals("join-token-0123456789abcdef", decode(auth, "join-token"));
        assertTrue(auth.getMetadata().getAnnotations().isEmpty(), "nothing generated when every token is given");
    }

    @Test
    void externalDatabase_configMap_becomesQuarkusEnvironmentVariables() {
        Map<String, EnvVar> env = env(Manifests.one(render("external-database"), Deployment.class));
        assertEquals("bin-pack=1,anti-affinity=3", env.get("FLOTILLA_SCHEDULER_SCORES").getValue());
        assertEquals("8", env.get("FLOTILLA_SCHEDULER_VCPU_OVERCOMMIT").getValue());
        assertEquals("false", env.get("FLOTILLA_KUBERNETES_ENABLED").getValue());
    }

    @Test
    void externalDatabase_serviceMonitors_scrapeQuarkusMetrics() {
        List<HasMetadata> objects = render("external-database");
        GenericKubernetesResource monitor = Manifests.generic(objects, "ServiceMonitor").orElseThrow();
        assertEquals("monitoring.coreos.com/v1", monitor.getApiVersion());
        assertEquals("prometheus", monitor.getMetadata().getLabels().get("release"));
        assertTrue(monitor.get("spec", "endpoints").toString().contains("path=/q/metrics"));
    }

    @Test
    void defaults_nodeAgent_isPrivilegedWithKvmTunAndCriSocketHostPaths() {
        DaemonSet agent = Manifests.one(render("defaults"), DaemonSet.class);
        var pod = agent.getSpec().getTemplate().getSpec();
        assertTrue(pod.getHostNetwork());
        assertTrue(pod.getContainers().getFirst().getSecurityContext().getPrivileged());
        Map<String, String> hostPaths = pod.getVolumes().stream().filter(v -> v.getHostPath() != null)
                .collect(Collectors.toMap(Volume::getName, v -> v.getHostPath().getPath()));
        assertEquals("/dev/kvm", hostPaths.get("kvm"));
        assertEquals("/dev/net/tun", hostPaths.get("tun"));
        assertEquals("/run/flotilla", hostPaths.get("cri-socket"));
        assertEquals("/var/lib/flotilla/node", hostPaths.get("state"));
        assertEquals("/var/lib/flotilla/guest", hostPaths.get("guest-artifacts"));
        assertEquals("/run/flotilla/cri.sock", env(pod.getContainers().getFirst()).get("FLOTILLA_NODE_CRI_SOCKET").getValue());
    }

    @Test
    void defaults_nodeAgent_runsOnlyOnFlotillaNodesAndToleratesTheirTaint() {
        DaemonSet agent = Manifests.one(render("defaults"), DaemonSet.class);
        var pod = agent.getSpec().getTemplate().getSpec();
        assertEquals(Map.of("flotilla.dev/runtime", "true"), pod.getNodeSelector());
        assertEquals("flotilla.dev/runtime", pod.getTolerations().getFirst().getKey());
        assertEquals("NoSchedule", pod.getTolerations().getFirst().getEffect());
    }

    @Test
    void defaults_runtimeClass_carriesOverheadAndSendsPodsToFlotillaNodes() {
        RuntimeClass runtimeClass = Manifests.one(render("defaults"), RuntimeClass.class);
        assertEquals("flotilla", runtimeClass.getMetadata().getName());
        assertEquals("flotilla", runtimeClass.getHandler());
        assertEquals("32Mi", runtimeClass.getOverhead().getPodFixed().get("memory").toString());
        assertEquals(Map.of("flotilla.dev/runtime", "true"), runtimeClass.getScheduling().getNodeSelector());
        assertEquals("NoSchedule", runtimeClass.getScheduling().getTolerations().getFirst().getEffect());
    }

    @Test
    void defaults_clusterRole_letsTheControllerListMicroVmsAndWriteTheirStatus() {
        ClusterRole role = Manifests.one(render("defaults"), ClusterRole.class);
        assertTrue(grants(role.getRules(), "microvms", "list"));
        assertTrue(grants(role.getRules(), "microvms/status", "update"));
        assertTrue(!grants(role.getRules(), "microvms", "delete"), "the controller never deletes MicroVMs");
    }

    @Test
    void defaults_crd_isTheMicroVmDefinition() {
        CustomResourceDefinition crd = Manifests.one(render("defaults"), CustomResourceDefinition.class);
        assertEquals("microvms.flotilla.dev", crd.getMetadata().getName());
    }

    @Test
    void noNodeAgent_rendersNoDaemonSetAndARoleForTheWatchedNamespace() {
        List<HasMetadata> objects = render("no-node-agent");
        assertTrue(Manifests.ofType(objects, DaemonSet.class).isEmpty());
        assertTrue(Manifests.ofType(objects, ClusterRole.class).isEmpty());
        assertEquals("sandboxes", Manifests.one(objects, Role.class).getMetadata().getNamespace());
        assertEquals("96Mi", Manifests.one(objects, RuntimeClass.class).getOverhead().getPodFixed().get("memory").toString());
    }

    @Test
    void existingSecrets_chartCreatesNoSecretsAndReferencesTheGivenOnes() {
        List<HasMetadata> objects = render("existing-secrets");
        assertTrue(Manifests.ofType(objects, Secret.class).isEmpty());
        Map<String, EnvVar> env = env(Manifests.one(objects, Deployment.class));
        assertEquals("flotilla-database", env.get("QUARKUS_DATASOURCE_JDBC_URL").getValueFrom().getSecretKeyRef().getName());
        assertEquals("url", env.get("QUARKUS_DATASOURCE_JDBC_URL").getValueFrom().getSecretKeyRef().getKey());
        assertEquals("flotilla-tokens", env.get("FLOTILLA_AUTH_JOIN_TOKEN").getValueFrom().getSecretKeyRef().getName());
    }

    @Test
    void existingSecrets_noTaintNoCri_agentHasNoTolerationsNorKubeletMounts() {
        List<HasMetadata> objects = render("existing-secrets");
        var pod = Manifests.one(objects, DaemonSet.class).getSpec().getTemplate().getSpec();
        assertTrue(pod.getTolerations().isEmpty());
        assertTrue(pod.getVolumes().stream().noneMatch(v -> v.getName().equals("kubelet-root")));
        assertEquals("install-guest-artifacts", pod.getInitContainers().getFirst().getName());
        RuntimeClass runtimeClass = Manifests.one(objects, RuntimeClass.class);
        assertNull(runtimeClass.getOverhead());
        assertTrue(runtimeClass.getScheduling().getTolerations().isEmpty());
    }

    private static boolean grants(List<PolicyRule> rules, String resource, String verb) {
        return rules.stream().anyMatch(r -> r.getResources().contains(resource) && r.getVerbs().contains(verb));
    }

    private static Map<String, EnvVar> env(Deployment deployment) {
        return env(deployment.getSpec().getTemplate().getSpec().getContainers().getFirst());
    }

    private static Map<String, EnvVar> env(Container container) {
        return container.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
    }

    private static Secret secret(List<HasMetadata> objects, String name) {
        return Manifests.ofType(objects, Secret.class).stream().filter(s -> s.getMetadata().getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no Secret " + name + " rendered"));
    }

    private static String decode(Secret secret, String key) {
        String value = secret.getData().get(key);
        assertNotNull(value, "Secret " + secret.getMetadata().getName() + " has no key " + key);
        return new String(Base64.getDecoder().decode(value));
    }
}
