package dev.flotilla.controlplane.sandbox;

import dev.flotilla.contract.v1.TaintEffect;
import jakarta.validation.Validation;
import jakarta.validation.Validator;
import jakarta.validation.ValidatorFactory;
import org.hibernate.validator.messageinterpolation.ParameterMessageInterpolator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.annotation.Annotation;
import java.lang.reflect.AnnotatedParameterizedType;
import java.lang.reflect.AnnotatedType;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SpecValidation#plainlyValid} must accept a spec only when Bean Validation does, since an accepted spec
 * skips Bean Validation. The constraint inventory below fails when a constraint is added to or changed on the
 * records, so the plain checks cannot silently fall behind.
 */
class SpecValidationTest {
    private static ValidatorFactory factory;
    private static Validator validator;

    @BeforeAll
    static void start() {
        factory = Validation.byDefaultProvider().configure().messageInterpolator(new ParameterMessageInterpolator())
                .buildValidatorFactory();
        validator = factory.getValidator();
    }

    @AfterAll
    static void stop() {
        factory.close();
    }

    @Test
    void constraints_onTheRecords_areTheOnesThePlainChecksMirror() {
        String expected = """
                SandboxSpec.name: NotBlank Size[max=63, min=0] Pattern[flags=[], regexp=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$]
                SandboxSpec.image: NotBlank Size[max=512, min=0]
                SandboxSpec.command: Size[max=64, min=0] <NotNull> <Size[max=4096, min=0]>
                SandboxSpec.vcpus: NotNull Min[value=1] Max[value=256]
                SandboxSpec.memoryMiB: NotNull Min[value=16] Max[value=4194304]
                SandboxSpec.labels: ValidLabels
                SandboxSpec.nodeSelector: ValidLabels
                SandboxSpec.tolerations: Size[max=32, min=0] <NotNull> <Valid>
                SandboxSpec.antiAffinity: ValidLabels
                SandboxSpec.restartPolicy:
                TolerationSpec.key: Size[max=253, min=0]
                TolerationSpec.operator: Pattern[flags=[], regexp=Equal|Exists]
                TolerationSpec.value: Size[max=63, min=0]
                TolerationSpec.effect:
                """;
        String actual = inventory(SandboxSpec.class) + inventory(TolerationSpec.class);
        assertEquals(expected, actual, "the constraints of SandboxSpec or TolerationSpec changed: mirror the change in "
                + "SpecValidation.plainlyValid, then update this inventory");
    }

    @Test
    void plainChecks_agreeWithBeanValidation_onValidAndBoundarySpecs() {
        List<SandboxSpec> cases = new ArrayList<>();
        cases.add(base());
        cases.add(null);
        cases.add(with(s -> new SandboxSpec(s.name(), s.image(), List.of("sh", "-c", "x".repeat(4096)), s.vcpus(),
                s.memoryMiB(), Map.of("app", "web"), Map.of("zone", "a"), List.of(new TolerationSpec("gpu", "Exists",
                null, TaintEffect.NO_SCHEDULE)), Map.of("app", "web"), RestartPolicy.NEVER)));
        for (String name : List.of("a", "a".repeat(63), "a".repeat(64), "-a", "a-", "A", "a_b", "", " ", "a b", "9-z")) {
            cases.add(with(s -> new SandboxSpec(name, s.image(), s.command(), s.vcpus(), s.memoryMiB(), s.labels(),
                    s.nodeSelector(), s.tolerations(), s.antiAffinity(), s.restartPolicy())));
        }
        cases.add(with(s -> new SandboxSpec(null, s.image(), s.command(), s.vcpus(), s.memoryMiB(), null, null, null,
                null, null)));
        for (String image : Arrays.asList(null, "", "  ", "\u0001", "i".repeat(512), "i".repeat(513), "\u2003")) {
            cases.add(with(s -> new SandboxSpec(s.name(), image, s.command(), s.vcpus(), s.memoryMiB(), s.labels(),
                    s.nodeSelector(), s.tolerations(), s.antiAffinity(), s.restartPolicy())));
        }
        List<List<String>> commands = new ArrayList<>(List.of(List.of(), Collections.nCopies(64, "x"),
                Collections.nCopies(65, "x"), List.of("x".repeat(4097))));
        commands.add(Arrays.asList("x", null));
        commands.add(null);
        for (List<String> command : commands) {
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), command, s.vcpus(), s.memoryMiB(), s.labels(),
                    s.nodeSelector(), s.tolerations(), s.antiAffinity(), s.restartPolicy())));
        }
        for (Integer vcpus : Arrays.asList(null, 0, 1, 256, 257, -1)) {
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), s.command(), vcpus, s.memoryMiB(), s.labels(),
                    s.nodeSelector(), s.tolerations(), s.antiAffinity(), s.restartPolicy())));
        }
        for (Long memory : Arrays.asList(null, 15L, 16L, 4_194_304L, 4_194_305L)) {
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), s.command(), s.vcpus(), memory, s.labels(),
                    s.nodeSelector(), s.tolerations(), s.antiAffinity(), s.restartPolicy())));
        }
        Map<String, String> tooMany = new LinkedHashMap<>();
        for (int i = 0; i < 65; i++) {
            tooMany.put("k" + i, "v");
        }
        Map<String, String> nullValue = new LinkedHashMap<>();
        nullValue.put("k", null);
        for (Map<String, String> labels : List.of(Map.of("bad key!", "v"), Map.of("k", "bad value!"), tooMany,
                nullValue, Map.of("example.com/k", "v"))) {
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), s.command(), s.vcpus(), s.memoryMiB(), labels,
                    s.nodeSelector(), s.tolerations(), s.antiAffinity(), s.restartPolicy())));
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), s.command(), s.vcpus(), s.memoryMiB(), s.labels(),
                    labels, s.tolerations(), s.antiAffinity(), s.restartPolicy())));
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), s.command(), s.vcpus(), s.memoryMiB(), s.labels(),
                    s.nodeSelector(), s.tolerations(), labels, s.restartPolicy())));
        }
        List<List<TolerationSpec>> tolerations = new ArrayList<>(List.of(
                List.of(new TolerationSpec(null, null, null, null)),
                List.of(new TolerationSpec("k".repeat(253), "Equal", "v".repeat(63), TaintEffect.NO_EXECUTE)),
                List.of(new TolerationSpec("k".repeat(254), "Equal", "v", null)),
                List.of(new TolerationSpec("k", "Equal", "v".repeat(64), null)),
                List.of(new TolerationSpec("k", "Maybe", "v", null)),
                List.of(new TolerationSpec("k", "equal", "v", null)),
                Collections.nCopies(32, new TolerationSpec("k", "Exists", null, null)),
                Collections.nCopies(33, new TolerationSpec("k", "Exists", null, null))));
        tolerations.add(Arrays.asList(new TolerationSpec("k", "Exists", null, null), null));
        for (List<TolerationSpec> list : tolerations) {
            cases.add(with(s -> new SandboxSpec(s.name(), s.image(), s.command(), s.vcpus(), s.memoryMiB(), s.labels(),
                    s.nodeSelector(), list, s.antiAffinity(), s.restartPolicy())));
        }

        int accepted = 0;
        for (SandboxSpec spec : cases) {
            boolean beanValid = spec != null && validator.validate(spec).isEmpty();
            boolean plain = SpecValidation.plainlyValid(spec);
            assertEquals(beanValid, plain, "plain checks and Bean Validation disagree on " + spec
                    + (spec == null ? "" : ": " + validator.validate(spec)));
            accepted += plain ? 1 : 0;
        }
        assertTrue(accepted >= 10, "expected the valid cases to take the fast path, " + accepted + " did");
    }

    private static SandboxSpec base() {
        return new SandboxSpec("sb-1", "docker.io/library/alpine:3.20", null, 1, 256L, null, null, null, null, null);
    }

    private static SandboxSpec with(UnaryOperator<SandboxSpec> change) {
        return change.apply(base());
    }

    /** Each record component with its constraint annotations (and those on its type arguments), one per line. */
    private static String inventory(Class<?> record) {
        StringBuilder out = new StringBuilder();
        for (RecordComponent component : record.getRecordComponents()) {
            List<String> found = new ArrayList<>();
            for (Annotation annotation : component.getAnnotations()) {
                found.add(describe(annotation));
            }
            AnnotatedType type = component.getAnnotatedType();
            for (Annotation annotation : type.getAnnotations()) {
                found.add(describe(annotation));
            }
            if (type instanceof AnnotatedParameterizedType parameterized) {
                for (AnnotatedType argument : parameterized.getAnnotatedActualTypeArguments()) {
                    for (Annotation annotation : argument.getAnnotations()) {
                        found.add("<" + describe(annotation) + ">");
                    }
                }
            }
            out.append(record.getSimpleName()).append('.').append(component.getName()).append(':');
            found.stream().distinct().forEach(description -> out.append(' ').append(description));
            out.append('\n');
        }
        return out.toString();
    }

    /** An annotation's simple name and the elements that change what it accepts (not message, groups, payload). */
    private static String describe(Annotation annotation) {
        List<String> elements = new ArrayList<>();
        for (Method element : annotation.annotationType().getDeclaredMethods()) {
            if (!List.of("message", "groups", "payload").contains(element.getName())) {
                try {
                    Object value = element.invoke(annotation);
                    elements.add(element.getName() + "=" + (value instanceof Object[] array ? Arrays.toString(array) : value));
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        elements.sort(null);
        return annotation.annotationType().getSimpleName() + (elements.isEmpty() ? "" : elements.toString());
    }
}
