package dev.flotilla.vmm.devices.virtio.rng;

import java.security.SecureRandom;

/** Where virtio-rng's bytes come from. Fills the whole array it is given. */
@FunctionalInterface
public interface EntropySource {

    void fill(byte[] buffer);

    /** The platform's strong generator (on Linux, seeded from the kernel's getrandom/urandom). */
    static EntropySource secureRandom() {
        SecureRandom random = new SecureRandom();
        return random::nextBytes;
    }
}
