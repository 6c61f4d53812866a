package dev.flotilla.images.unpack;

import dev.flotilla.images.UnsafeLayerException;

import java.util.ArrayList;
import java.util.List;

/**
 * A tar entry name split into path components. Names are relative to the image root: a leading
 * {@code /} and {@code .} components are dropped (tar writers emit {@code ./etc} and {@code /etc}
 * alike); a {@code ..} component is refused outright, since no honest layer needs one.
 */
final class EntryPath {
    private EntryPath() {
    }

    /** The components of {@code name}; empty for the root itself. */
    static List<String> components(String name, String layer, String role) {
        if (name.indexOf('\0') >= 0) {
            throw new UnsafeLayerException(layer + " has an entry whose " + role + " contains a NUL byte");
        }
        List<String> components = new ArrayList<>();
        for (String component : name.split("/")) {
            if (component.isEmpty() || component.equals(".")) {
                continue;
            }
            if (component.equals("..")) {
                throw new UnsafeLayerException(layer + " has an entry whose " + role + " '" + name
                        + "' contains '..', which could leave the image root; refusing the layer");
            }
            components.add(component);
        }
        return components;
    }
}
