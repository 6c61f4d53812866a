package dev.flotilla.cri.service;

import dev.flotilla.cri.v1.Container;
import dev.flotilla.cri.v1.ContainerFilter;
import dev.flotilla.cri.v1.ContainerStats;
import dev.flotilla.cri.v1.ContainerStatsFilter;
import dev.flotilla.cri.v1.Image;
import dev.flotilla.cri.v1.ImageFilter;
import dev.flotilla.cri.v1.PodSandbox;
import dev.flotilla.cri.v1.PodSandboxFilter;
import dev.flotilla.cri.v1.PodSandboxStats;
import dev.flotilla.cri.v1.PodSandboxStatsFilter;

import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The list filters of CRI, applied by the shim so every backend behaves the same. All set fields must match
 * (AND); an unset field matches everything; label selectors are exact key=value matches.
 */
final class CriFilters {

    private CriFilters() {
    }

    static List<PodSandbox> sandboxes(List<PodSandbox> all, PodSandboxFilter f) {
        return keep(all, s -> idMatches(f.getId(), s.getId())
                && (!f.hasState() || f.getState().getState() == s.getState())
                && labelsMatch(f.getLabelSelectorMap(), s.getLabelsMap()));
    }

    static List<Container> containers(List<Container> all, ContainerFilter f) {
        return keep(all, c -> idMatches(f.getId(), c.getId())
                && idMatches(f.getPodSandboxId(), c.getPodSandboxId())
                && (!f.hasState() || f.getState().getState() == c.getState())
                && labelsMatch(f.getLabelSelectorMap(), c.getLabelsMap()));
    }

    static List<ContainerStats> containerStats(List<ContainerStats> all, ContainerStatsFilter f,
                                               Map<String, String> sandboxOfContainer) {
        return keep(all, s -> idMatches(f.getId(), s.getAttributes().getId())
                && (f.getPodSandboxId().isEmpty()
                    || f.getPodSandboxId().equals(sandboxOfContainer.get(s.getAttributes().getId())))
                && labelsMatch(f.getLabelSelectorMap(), s.getAttributes().getLabelsMap()));
    }

    static List<PodSandboxStats> sandboxStats(List<PodSandboxStats> all, PodSandboxStatsFilter f) {
        return keep(all, s -> idMatches(f.getId(), s.getAttributes().getId())
                && labelsMatch(f.getLabelSelectorMap(), s.getAttributes().getLabelsMap()));
    }

    /** An image filter names one image by id, tag or digest. */
    static List<Image> images(List<Image> all, ImageFilter f) {
        String wanted = f.hasImage() ? f.getImage().getImage() : "";
        return keep(all, i -> wanted.isEmpty() || i.getId().equals(wanted) || i.getRepoTagsList().contains(wanted)
                || i.getRepoDigestsList().contains(wanted));
    }

    private static boolean idMatches(String wanted, String id) {
        return wanted.isEmpty() || wanted.equals(id);
    }

    private static boolean labelsMatch(Map<String, String> selector, Map<String, String> labels) {
        for (var e : selector.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    private static <T> List<T> keep(List<T> all, Predicate<T> test) {
        return all.stream().filter(test).toList();
    }
}
