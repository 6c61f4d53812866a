/**
 * Applying layer tars onto a directory with OCI whiteout semantics, safely: every path is
 * resolved inside the root by {@code RootDirectory} (never by the kernel following a symlink),
 * and every size an image declares is capped by an {@code UnpackPolicy}. Extended attributes
 * (file capabilities, {@code user.*}) are read from the PAX headers byte for byte by {@code Xattrs}
 * and set with {@code lsetxattr(2)} ({@code SpecialFiles}).
 */
package dev.flotilla.images.unpack;
