package dev.flotilla.controlplane.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.TaintEffect;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden files in {@code src/test/resources/scheduler-golden}: {@code NAME.input.yaml} (policy, nodes, sandboxes)
 * and {@code NAME.expected.yaml} (sandbox name → node name, or "unschedulable: reason"). Every file must be part
 * of a complete pair, so a stray or misnamed file fails the build instead of silently testing nothing.
 * Run with {@code -Dflotilla.golden.update=true} to rewrite the expected files after a deliberate change.
 */
class SchedulerGoldenTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final String INPUT = ".input.yaml";
    private static final String EXPECTED = ".expected.yaml";

    @TestFactory
    Stream<DynamicTest> goldenCases_scheduled_matchExpectedPlacements() throws Exception {
        return caseNames().stream().map(name -> DynamicTest.dynamicTest(name, () -> runCase(name)));
    }

    @Test
    void goldenDirectory_everyFile_belongsToACompletePair() throws Exception {
        List<String> problems = new ArrayList<>();
        Set<String> inputs = new TreeSet<>();
        Set<String> expected = new TreeSet<>();
        try (Stream<Path> files = Files.list(directory())) {
            for (Path file : files.toList()) {
                String fileName = file.getFileName().toString();
                if (fileName.endsWith(INPUT)) {
                    inputs.add(fileName.substring(0, fileName.length() - INPUT.length()));
                } else if (fileName.endsWith(EXPECTED)) {
                    expected.add(fileName.substring(0, fileName.length() - EXPECTED.length()));
                } else {
                    problems.add(fileName + " is neither *" + INPUT + " nor *" + EXPECTED);
                }
            }
        }
        for (String name : inputs) {
            if (!expected.contains(name)) {
                problems.add(name + INPUT + " has no " + name + EXPECTED);
            }
        }
        for (String name : expected) {
            if (!inputs.contains(name)) {
                problems.add(name + EXPECTED + " is unused: no " + name + INPUT);
            }
        }
        assertTrue(problems.isEmpty(), String.join("; ", problems));
        assertTrue(inputs.size() >= 5, "expected at least 5 golden cases, found " + inputs);
    }

    private static void runCase(String name) throws IOException, URISyntaxException {
        JsonNode input = YAML.readTree(directory().resolve(name + INPUT).toFile());
        List<SandboxRequest> requests = new ArrayList<>();
        Map<UUID, String> namesById = new LinkedHashMap<>();
        for (JsonNode sandbox : input.path("sandboxes")) {
            SandboxRequest request = sandbox(sandbox);
            requests.add(request);
            namesById.put(request.id(), request.name());
        }
        SchedulingResult result = Scheduler.schedule(snapshot(input), requests, policy(input.path("policy")));

        Map<String, String> actual = new LinkedHashMap<>();
        for (SchedulingResult.Decision decision : result.decisions()) {
            String outcome = switch (decision) {
                case SchedulingResult.Placement placement -> placement.node().name();
                case SchedulingResult.Unschedulable unschedulable -> "unschedulable: " + unschedulable.reason();
            };
            actual.put(namesById.get(decision.sandboxId()), outcome);
        }
        Path expectedFile = directory().resolve(name + EXPECTED);
        if (Boolean.getBoolean("flotilla.golden.update")) {
            Path source = Path.of("src/test/resources/scheduler-golden").resolve(name + EXPECTED);
            Files.writeString(source, YAML.writeValueAsString(Map.of("placements", actual)), StandardCharsets.UTF_8);
            return;
        }
        Map<String, String> expected = new LinkedHashMap<>();
        YAML.readTree(expectedFile.toFile()).path("placements").properties()
                .forEach(entry -> expected.put(entry.getKey(), entry.getValue().asText()));
        assertEquals(expected, actual, "placements of golden case " + name);
    }

    private static SchedulingPolicy policy(JsonNode policy) {
        List<String> filters = new ArrayList<>();
        policy.path("filters").forEach(filter -> filters.add(filter.asText()));
        Map<String, Integer> scores = new LinkedHashMap<>();
        policy.path("scores").properties().forEach(entry -> scores.put(entry.getKey(), entry.getValue().asInt()));
        return SchedulingPolicy.of(filters, scores, policy.path("vcpuOvercommit").asDouble(1.0),
                policy.path("memoryOvercommit").asDouble(1.0), policy.path("maxNodesToScore").asInt(0));
    }

    private static FleetSnapshot snapshot(JsonNode input) {
        List<NodeInfo> nodes = new ArrayList<>();
        for (JsonNode node : input.path("nodes")) {
            List<Taint> taints = new ArrayList<>();
            for (JsonNode taint : node.path("taints")) {
                taints.add(new Taint(taint.path("key").asText(), taint.path("value").asText(null),
                        effect(taint.path("effect").asText())));
            }
            List<Map<String, String>> sandboxLabels = new ArrayList<>();
            node.path("sandboxLabels").forEach(labels -> sandboxLabels.add(strings(labels)));
            String name = node.path("name").asText();
            nodes.add(new NodeInfo(UUID.nameUUIDFromBytes(("node:" + name).getBytes(StandardCharsets.UTF_8)), name,
                    resources(node.path("capacity")), resources(node.path("allocated")), strings(node.path("labels")),
                    taints, node.path("healthy").asBoolean(true), node.path("cordoned").asBoolean(false), sandboxLabels));
        }
        return new FleetSnapshot(nodes, input.path("cursor").asInt(0));
    }

    private static SandboxRequest sandbox(JsonNode sandbox) {
        List<Toleration> tolerations = new ArrayList<>();
        for (JsonNode toleration : sandbox.path("tolerations")) {
            tolerations.add(new Toleration(toleration.path("key").asText(null),
                    "Exists".equals(toleration.path("operator").asText("Equal")), toleration.path("value").asText(null),
                    toleration.has("effect") ? effect(toleration.path("effect").asText()) : null));
        }
        String name = sandbox.path("name").asText();
        return new SandboxRequest(UUID.nameUUIDFromBytes(("sandbox:" + name).getBytes(StandardCharsets.UTF_8)), name,
                new Resources(sandbox.path("vcpus").asLong(1), sandbox.path("memoryMiB").asLong(128), 1),
                strings(sandbox.path("labels")), strings(sandbox.path("nodeSelector")), tolerations,
                strings(sandbox.path("antiAffinity")));
    }

    private static Resources resources(JsonNode node) {
        return new Resources(node.path("vcpus").asLong(0), node.path("memoryMiB").asLong(0), node.path("vms").asLong(0));
    }

    private static TaintEffect effect(String text) {
        return switch (text) {
            case "NoSchedule" -> TaintEffect.NO_SCHEDULE;
            case "PreferNoSchedule" -> TaintEffect.PREFER_NO_SCHEDULE;
            case "NoExecute" -> TaintEffect.NO_EXECUTE;
            default -> throw new IllegalArgumentException("unknown taint effect '" + text + "' in golden file");
        };
    }

    private static Map<String, String> strings(JsonNode node) {
        Map<String, String> map = new LinkedHashMap<>();
        node.properties().forEach(entry -> map.put(entry.getKey(), entry.getValue().asText()));
        return map;
    }

    private static List<String> caseNames() throws IOException, URISyntaxException {
        try (Stream<Path> files = Files.list(directory())) {
            return files.map(path -> path.getFileName().toString()).filter(name -> name.endsWith(INPUT))
                    .map(name -> name.substring(0, name.length() - INPUT.length())).sorted().toList();
        }
    }

    private static Path directory() throws URISyntaxException {
        return Path.of(SchedulerGoldenTest.class.getResource("/scheduler-golden").toURI());
    }
}
