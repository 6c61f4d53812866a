/**
 * Applying layer tars onto a directory with OCI whiteout semantics, safely: every path is
 * resolved inside the root by {@code RootDirectory} (never by the kernel following a symlink),
 * and every size an image declares is capped by an {@code UnpackPolicy}.
 */
package dev.flotilla.images.unpack;
