package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonEnumDefaultValue;
import com.fasterxml.jackson.annotation.JsonProperty;

/** What a taint does to sandboxes that do not tolerate it (the Kubernetes meanings). */
public enum TaintEffect {
    /** New sandboxes are not placed on the node. */
    @JsonProperty("NoSchedule") NO_SCHEDULE,
    /** The scheduler avoids the node when another fits. */
    @JsonProperty("PreferNoSchedule") PREFER_NO_SCHEDULE,
    /** Not placed, and sandboxes already there are moved away. */
    @JsonProperty("NoExecute") NO_EXECUTE,
    /** An effect introduced by a newer peer; treated like {@link #NO_SCHEDULE}. */
    @JsonEnumDefaultValue @JsonProperty("Unknown") UNKNOWN
}
