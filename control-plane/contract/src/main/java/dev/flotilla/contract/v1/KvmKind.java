package dev.flotilla.contract.v1;

import com.fasterxml.jackson.annotation.JsonEnumDefaultValue;
import com.fasterxml.jackson.annotation.JsonProperty;

/** Which kind of KVM a node has, as its agent detected it. */
public enum KvmKind {
    /** Hardware virtualization (VT-x / AMD-V): stock Linux guests run natively. */
    @JsonProperty("hardware") HARDWARE,
    /** Pagetable-based KVM ({@code kvm_pvm}): only PVM-enlightened guest kernels run natively. */
    @JsonProperty("pvm") PVM,
    /** No usable /dev/kvm. */
    @JsonProperty("none") NONE,
    @JsonEnumDefaultValue @JsonProperty("unknown") UNKNOWN
}
