package dev.flotilla.controlplane.ui;

import io.quarkus.qute.TemplateData;

/**
 * One resource bar: how much of a capacity is reserved by the scheduler and how much a node measured in use.
 *
 * @param text e.g. "6 / 16 vCPUs"
 */
@TemplateData
public record Usage(String what, String text, int allocatedPercent, int usedPercent, boolean high) {

    static Usage of(String what, long allocated, long used, long capacity, java.util.function.LongFunction<String> unit) {
        int allocatedPercent = Format.percent(allocated, capacity);
        return new Usage(what, unit.apply(allocated) + " of " + unit.apply(capacity) + " reserved, "
                + unit.apply(used) + " in use", allocatedPercent, Format.percent(used, capacity), allocatedPercent >= 90);
    }
}
