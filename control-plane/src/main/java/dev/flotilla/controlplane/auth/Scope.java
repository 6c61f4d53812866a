package dev.flotilla.controlplane.auth;

/** What a bearer token allows. Users get READ (read-only tokens) or READ+WRITE (admin tokens). */
public enum Scope {
    /** Read sandboxes, nodes, events and the fleet summary. */
    READ,
    /** Create, change and delete sandboxes; cordon and drain nodes. */
    WRITE,
    /** Register a node (the join token). */
    NODE_REGISTER,
    /** Send heartbeats for one node (a node token). */
    NODE
}
