package dev.flotilla.helm;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManifestsTest {
    private static final String DEPLOYMENT = """
            # Source: x.yaml
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              template:
                spec:
                  containers:
                    - name: c
                      readinesProbe: {httpGet: {path: /q/health/ready, port: 8480}}
            """;

    @Test
    void unknownFields_misspeltContainerField_isReportedWithItsPath() {
        List<HasMetadata> objects = Manifests.parse("---\n" + DEPLOYMENT);
        List<String> unknown = Manifests.unknownFields(Manifests.one(objects, Deployment.class));
        assertEquals(1, unknown.size(), unknown.toString());
        assertTrue(unknown.getFirst().contains("containers[0]") && unknown.getFirst().contains("readinesProbe"), unknown.getFirst());
    }

    @Test
    void documents_commentOnlyDocuments_areSkipped() {
        assertEquals(1, Manifests.documents("---\n# Source: empty.yaml\n---\n" + DEPLOYMENT).size());
    }

    @Test
    void redactGenerated_onlyAnnotatedKeys_areReplaced() {
        String secret = """
                ---
                kind: Secret
                metadata:
                  annotations:
                    flotilla.dev/generated-keys: "join-token"
                data:
                  join-token: "cmFuZG9t"
                  admin-tokens: "Z2l2ZW4="
                """;
        String redacted = Manifests.redactGenerated(secret);
        assertTrue(redacted.contains("  join-token: \"<generated>\""), redacted);
        assertTrue(redacted.contains("  admin-tokens: \"Z2l2ZW4=\""), redacted);
    }
}
