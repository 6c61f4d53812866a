/** OCI image-spec and Docker schema 2 documents: media types, descriptors, and a checking JSON reader. */
package dev.flotilla.images.oci;
