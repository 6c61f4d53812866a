package dev.flotilla.images;

/**
 * A user name and password (or token) for a registry: sent to its token endpoint when it asks for
 * a bearer token, or as HTTP Basic when it asks for that. Pulls without credentials are anonymous.
 */
public record RegistryCredentials(String username, String password) {
    public RegistryCredentials {
        if (username == null || username.isEmpty() || password == null) {
            throw new IllegalArgumentException("registry credentials need a user name and a password");
        }
    }

    @Override
    public String toString() {
        return "RegistryCredentials[" + username + ", password hidden]";
    }
}
