package dev.flotilla.cri.backend;

/**
 * Credentials the kubelet passed with a PullImage call (from an imagePullSecret), already decoded: {@code auth}
 * (base64 "user:password") is split into username and password by the shim. Exactly one of a user/password pair,
 * an identity token or a registry (bearer) token is set. {@link #toString()} never shows secrets.
 */
public record RegistryAuth(String serverAddress, String username, String password, String identityToken,
                           String registryToken) {

    public RegistryAuth {
        serverAddress = serverAddress == null ? "" : serverAddress;
        username = username == null ? "" : username;
        password = password == null ? "" : password;
        identityToken = identityToken == null ? "" : identityToken;
        registryToken = registryToken == null ? "" : registryToken;
    }

    public boolean hasPassword() {
        return !username.isEmpty();
    }

    @Override
    public String toString() {
        return "RegistryAuth[server=" + serverAddress + ", user=" + username
                + (password.isEmpty() ? "" : ", password=***")
                + (identityToken.isEmpty() ? "" : ", identityToken=***")
                + (registryToken.isEmpty() ? "" : ", registryToken=***") + "]";
    }
}
