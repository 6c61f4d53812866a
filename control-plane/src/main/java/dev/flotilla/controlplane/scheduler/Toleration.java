package dev.flotilla.controlplane.scheduler;

import dev.flotilla.contract.v1.Taint;
import dev.flotilla.contract.v1.TaintEffect;

/**
 * A sandbox's permission to run on nodes with a matching taint (Kubernetes semantics): {@code key} null with
 * {@code exists} tolerates every taint; {@code effect} null tolerates every effect.
 */
public record Toleration(String key, boolean exists, String value, TaintEffect effect) {

    public boolean tolerates(Taint taint) {
        if (effect != null && effect != taint.effect()) {
            return false;
        }
        if (key == null) {
            return exists;
        }
        if (!key.equals(taint.key())) {
            return false;
        }
        return exists || java.util.Objects.equals(value, taint.value());
    }
}
