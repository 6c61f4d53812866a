package dev.flotilla.controlplane.sandbox;

import dev.flotilla.controlplane.api.Labels;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.Valid;
import jakarta.validation.Validator;
import jakarta.validation.constraints.NotNull;

import java.lang.reflect.Method;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Validation of the body of {@code POST /sandboxes}. Bean Validation, with the constraints declared on
 * {@link SandboxSpec} and {@link TolerationSpec}, is the authority and produces every error. Running it costs more
 * CPU than anything else in a create request except the HTTP layer itself (about a tenth of the service's CPU at
 * the benchmark's rates), so a spec is first put through {@link #plainlyValid}: the same constraints written out
 * as plain checks. A spec that passes them cannot violate any constraint and skips Bean Validation; any other spec
 * (also one the plain checks are merely unsure about) goes through Bean Validation as before.
 * {@code SpecValidationTest} keeps the two in step: it fails when a constraint is added to the records without
 * being added here, and checks that every spec accepted here is accepted by Bean Validation.
 */
public final class SpecValidation {
    /** The constraints of the create endpoint's parameter, for Bean Validation's method-parameter paths. */
    static final class CreateParameters {
        @SuppressWarnings("unused")
        void create(@Valid @NotNull SandboxSpec spec) {
        }
    }

    private static final Method CREATE;
    private static final Pattern NAME = Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
    private static final Pattern OPERATOR = Pattern.compile("Equal|Exists");

    static {
        try {
            CREATE = CreateParameters.class.getDeclaredMethod("create", SandboxSpec.class);
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private SpecValidation() {
    }

    /** Throws {@link ConstraintViolationException} (mapped to a 400 problem with field errors) for an invalid spec. */
    public static void require(Validator validator, SandboxSpec spec) {
        if (plainlyValid(spec)) {
            return;
        }
        Set<ConstraintViolation<CreateParameters>> violations = validator.forExecutables()
                .validateParameters(new CreateParameters(), CREATE, new Object[] {spec});
        if (!violations.isEmpty()) {
            throw new ConstraintViolationException(violations);
        }
    }

    /** True only when the spec satisfies every constraint of SandboxSpec and TolerationSpec. */
    static boolean plainlyValid(SandboxSpec spec) {
        return spec != null
                && notBlank(spec.name()) && spec.name().length() <= 63 && NAME.matcher(spec.name()).matches()
                && notBlank(spec.image()) && spec.image().length() <= 512
                && commandValid(spec.command())
                && spec.vcpus() != null && spec.vcpus() >= 1 && spec.vcpus() <= 256
                && spec.memoryMiB() != null && spec.memoryMiB() >= 16 && spec.memoryMiB() <= 4_194_304
                && Labels.invalid(spec.labels()) == null
                && Labels.invalid(spec.nodeSelector()) == null
                && Labels.invalid(spec.antiAffinity()) == null
                && tolerationsValid(spec.tolerations());
    }

    /** {@code @NotBlank} as Hibernate Validator checks it ({@link String#isBlank()}). */
    private static boolean notBlank(String value) {
        return value != null && !value.isBlank();
    }

    private static boolean commandValid(List<String> command) {
        if (command == null) {
            return true;
        }
        if (command.size() > 64) {
            return false;
        }
        for (String argument : command) {
            if (argument == null || argument.length() > 4096) {
                return false;
            }
        }
        return true;
    }

    private static boolean tolerationsValid(List<TolerationSpec> tolerations) {
        if (tolerations == null) {
            return true;
        }
        if (tolerations.size() > 32) {
            return false;
        }
        for (TolerationSpec toleration : tolerations) {
            if (toleration == null
                    || toleration.key() != null && toleration.key().length() > 253
                    || toleration.operator() != null && !OPERATOR.matcher(toleration.operator()).matches()
                    || toleration.value() != null && toleration.value().length() > 63) {
                return false;
            }
        }
        return true;
    }
}
