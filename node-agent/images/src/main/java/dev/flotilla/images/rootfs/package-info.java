/** Building the read-only root filesystem image (erofs) from an unpacked directory. */
package dev.flotilla.images.rootfs;
