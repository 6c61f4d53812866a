package dev.flotilla.containers;

/** The sandbox has no container (or exec) by that id. */
public class ContainerNotFoundException extends ContainerException {
    public ContainerNotFoundException(String message) {
        super(message);
    }
}
