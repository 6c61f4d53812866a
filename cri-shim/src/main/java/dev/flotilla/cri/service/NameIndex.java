package dev.flotilla.cri.service;

import dev.flotilla.cri.CriException;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Names in use on this node, so that a second RunPodSandbox or CreateContainer with the same metadata (same
 * name and attempt) is refused with ALREADY_EXISTS instead of creating a twin. The kubelet relies on this to
 * detect its own retries. A name is reserved before the backend is called and released if that call fails or
 * the object is removed.
 */
final class NameIndex {

    private final String kind;
    private final Map<String, String> idByName = new HashMap<>();
    private final Map<String, String> nameById = new HashMap<>();

    NameIndex(String kind) {
        this.kind = kind;
    }

    synchronized void reserve(String name, String id) {
        String holder = idByName.get(name);
        if (holder != null && !holder.equals(id)) {
            throw CriException.alreadyExists(kind + " name " + name + " is already used by " + kind + " " + holder
                    + "; remove that " + kind + " first or create this one with a new attempt number");
        }
        idByName.put(name, id);
        nameById.put(id, name);
    }

    synchronized void releaseId(String id) {
        String name = nameById.remove(id);
        if (name != null) {
            idByName.remove(name, id);
        }
    }

    /** Releases every name starting with {@code prefix} (the containers of a removed sandbox). */
    synchronized void releasePrefix(String prefix) {
        idByName.entrySet().removeIf(e -> {
            if (e.getKey().startsWith(prefix)) {
                nameById.remove(e.getValue());
                return true;
            }
            return false;
        });
    }

    synchronized Optional<String> idOf(String name) {
        return Optional.ofNullable(idByName.get(name));
    }
}
