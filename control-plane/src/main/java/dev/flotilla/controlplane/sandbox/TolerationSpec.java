package dev.flotilla.controlplane.sandbox;

import dev.flotilla.contract.v1.TaintEffect;
import dev.flotilla.controlplane.scheduler.Toleration;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * A toleration as written in the API: {@code operator} is "Equal" (default) or "Exists"; a missing key with
 * "Exists" tolerates every taint; a missing effect tolerates every effect.
 */
public record TolerationSpec(
        @Size(max = 253) String key,
        @Pattern(regexp = "Equal|Exists", message = "must be Equal or Exists") String operator,
        @Size(max = 63) String value,
        TaintEffect effect) {

    public Toleration toToleration() {
        return new Toleration(key, "Exists".equals(operator), value, effect);
    }
}
