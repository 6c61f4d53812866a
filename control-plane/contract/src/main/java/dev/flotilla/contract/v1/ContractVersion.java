package dev.flotilla.contract.v1;

/** The version tag both sides send in {@link #HEADER} so a mismatch is reported instead of misparsed. */
public final class ContractVersion {
    /** HTTP header carrying the contract version of the sender. */
    public static final String HEADER = "Flotilla-Contract-Version";
    /** The version described by this package. */
    public static final String CURRENT = "v1";

    private ContractVersion() {
    }
}
