/**
 * The OCI distribution (registry v2) client for pulls. Auth follows Docker's token flow: a 401
 * with {@code WWW-Authenticate: Bearer realm=...,service=...,scope=...} sends us to the realm for
 * a token (with HTTP Basic credentials when given), cached per repository until it expires; a
 * Basic challenge gets the credentials directly. Plain HTTP only for hosts configured so.
 */
package dev.flotilla.images.registry;
