/**
 * Pod networking through CNI for the CRI: {@link dev.flotilla.node.cri.cni.CniNetwork} runs the node's CNI
 * configuration (Debian's containernetworking-plugins in tests) for a pod's network namespace. The next step, not yet
 * written: a pod's microVM joined to that namespace (its tap moved in and tied to {@code eth0} with tc mirred
 * redirect both ways, as Kata does, the VM's NIC taking eth0's MAC and the CNI address), used by CriPods when the node
 * runs with CNI networking instead of the agent's own bridge.
 */
package dev.flotilla.node.cri.cni;
