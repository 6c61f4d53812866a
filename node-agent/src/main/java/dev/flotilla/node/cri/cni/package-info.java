/**
 * Pod networking through CNI for the CRI ({@code flotilla.node.cri.pod-network=cni}):
 * {@link dev.flotilla.node.cri.cni.CniNetwork} runs the node's CNI configuration for a pod's network namespace; the
 * pod's microVM is then joined to it by {@link dev.flotilla.node.network.SandboxNetwork#joinPodNamespace} (its tap
 * moved in and tied to {@code eth0} with tc mirred redirect both ways, as Kata does; the VM's NIC takes eth0's MAC and
 * the CNI address). CriPods drives both.
 */
package dev.flotilla.node.cri.cni;
