/**
 * The content-addressed store's building blocks: blobs published only after verification
 * ({@code BlobStore}), refs ({@code RefStore}), crash-safe file publishing ({@code AtomicFiles}) and
 * the in-JVM plus cross-process locks that de-duplicate work and keep gc away from pulls
 * ({@code StoreLocks}).
 */
package dev.flotilla.images.store;
