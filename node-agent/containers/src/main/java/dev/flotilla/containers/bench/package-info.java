/**
 * {@code ./flotilla bench container-start} and what it shares with the Linux e2e suite: an image built here from
 * busybox-static (no image builder, every byte chosen) and Debian's docker-registry on loopback to pull it from.
 */
package dev.flotilla.containers.bench;
