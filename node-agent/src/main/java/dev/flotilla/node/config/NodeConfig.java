package dev.flotilla.node.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Every {@code flotilla.node.*} setting of the agent, with its default. node-agent/README.md lists them. */
@ConfigMapping(prefix = "flotilla.node")
public interface NodeConfig {

    /** Where sandbox records, the tiny-guest image and generated tokens live. */
    @WithDefault("${user.home}/.local/share/flotilla/node-agent")
    String stateDir();

    /**
     * fsync the record of each new sandbox (and its directory) before building its VM. Records are replaced
     * atomically either way and state changes are never fsynced: a host crash ends every VM and tap anyway.
     */
    @WithDefault("true")
    boolean stateFsync();

    /** Stable node name, a DNS label; defaults to the host name. */
    Optional<String> name();

    Auth auth();

    Capacity capacity();

    Guests guests();

    Network network();

    ControlPlane controlPlane();

    Containers containers();

    Cri cri();

    /** The Kubernetes CRI v1 endpoint (module cri-shim) the kubelet talks to; see node-agent/README.md. */
    interface Cri {
        /** Serve the CRI on {@link #socket()}. */
        @WithDefault("false")
        boolean enabled();

        /** The kubelet's {@code --container-runtime-endpoint=unix://<this>}. */
        @WithDefault("/run/flotilla/cri.sock")
        String socket();

        /** RuntimeClass handler names served besides the default one. */
        @WithDefault("flotilla")
        List<String> runtimeHandlers();

        /**
         * What a pod sandbox's microVM boots: {@code linux} (containers run in it; needs hardware KVM) or
         * {@code tiny} (a VM without containers, where Linux guests cannot run: PVM hosts, tests).
         */
        @WithDefault("linux")
        String guest();

        /**
         * Where the exec streaming server listens (kubectl exec reaches it through the kubelet): an address of this
         * node, loopback by default like containerd's, since the kubelet beside the agent is its client.
         */
        @WithDefault("127.0.0.1")
        String streamingAddress();

        /** Its port; 0 picks a free one (the URL handed to the kubelet names it). */
        @WithDefault("0")
        int streamingPort();

        /** Guest memory for the guest kernel and agent, added to the pod's memory limit (or used alone without one). */
        @WithDefault("128")
        long baseMemoryMib();

        /** vCPUs of a pod without a CPU limit. */
        @WithDefault("1")
        int defaultVcpus();

        /**
         * Where pods get their network: {@code cni} (the node's CNI configuration, as the kubelet expects; the VM is
         * joined to the pod's namespace with tc redirect) or {@code agent} (a tap on the agent's own bridge when
         * flotilla.node.network.enabled, else none).
         */
        @WithDefault("agent")
        String podNetwork();

        @WithDefault("/etc/cni/net.d")
        String cniConfDir();

        @WithDefault("/opt/cni/bin,/usr/lib/cni")
        List<String> cniBinDirs();
    }

    interface Containers {
        /** Run OCI images (off: sandboxes with an image are refused with 501). */
        @WithDefault("true")
        boolean enabled();

        /** The image store: blobs, image records and erofs root filesystems. Default {@code <state-dir>/images}. */
        Optional<String> imageStoreDir();

        /** Registries spoken to over plain HTTP (host:port, comma-separated), e.g. a registry on loopback. */
        Optional<List<String>> insecureRegistries();

        /**
         * Pull-through mirrors per registry host, tried in order before the registry itself (air-gapped clusters):
         * {@code flotilla.node.containers.mirrors."docker.io"=https://mirror.internal,http://10.0.0.5:5000}. The
         * key is the registry as written in image references ({@code docker.io} for Docker Hub); each value is a
         * comma-separated list of http:// or https:// base URLs. Pull credentials are never sent to a mirror.
         */
        Map<String, String> mirrors();

        /** How long the guest agent may take to answer after the guest signalled boot. */
        @WithDefault("60s")
        Duration agentTimeout();
    }

    interface Auth {
        /**
         * Bearer tokens accepted by the API (comma-separated). Empty: one is generated into
         * {@code <state-dir>/api-token} (mode 600) at the first start.
         */
        Optional<List<String>> tokens();
    }

    interface Capacity {
        /** vCPUs offered = host CPUs × this. */
        @WithDefault("4.0")
        double cpuOvercommit();

        /** Guest memory offered = (host memory − reserved) × this. Above 1 relies on guests not touching all of it. */
        @WithDefault("1.0")
        double memoryOvercommit();

        /** Host memory kept for the host and the agent itself, never given to guests. */
        @WithDefault("1024")
        long reservedMemoryMib();

        /** The most VMs at once (each costs two fds, a platform thread per vCPU and ~0.5 MiB of kernel memory). */
        @WithDefault("4096")
        int maxVms();
    }

    interface Guests {
        /** Linux guest kernel (vmlinux with PVH note or bzImage); see guest/build.sh paths. */
        Optional<String> linuxKernel();

        Optional<String> linuxInitrd();

        /** Base kernel command line of Linux guests (guest/kernel/cmdline). */
        @WithDefault("console=ttyS0")
        String linuxCmdline();

        /**
         * Accept Linux guests although this host's KVM cannot boot them (PVM). Only for tests of the
         * failure path: the VM ends in an emulation failure.
         */
        @WithDefault("false")
        boolean allowLinuxOnPvm();

        /** How long a guest may take from start to its boot-timer write before it is reported FAILED. */
        @WithDefault("60s")
        Duration bootTimeout();
    }

    interface Network {
        /** Give sandboxes a tap on the bridge. Needs CAP_NET_ADMIN. */
        @WithDefault("false")
        boolean enabled();

        @WithDefault("flotilla0")
        String bridge();

        /** IPv4 pool (CIDR), cut into one subnet per bridge; a subnet's first host address is its bridge's (the gateway). */
        @WithDefault("10.213.0.0/16")
        String pool();

        /**
         * Prefix length of each bridge's subnet, 22 to 30. A Linux bridge takes at most 1,023 ports, so a pool larger
         * than one subnet spreads its sandboxes over several bridges: {@code <bridge>}, {@code <bridge>-1}, … each
         * made when the ones before are full. /22 gives 1,021 sandboxes per bridge.
         */
        @WithDefault("22")
        int bridgePrefixLength();

        /** Masquerade sandbox traffic leaving through the host's other interfaces. */
        @WithDefault("false")
        boolean nat();

        /** Sandboxes may talk to each other on the bridge (off: bridge ports are isolated). */
        @WithDefault("false")
        boolean allowSandboxToSandbox();

        /** Sandboxes may reach the agent's own API port through the bridge address. */
        @WithDefault("false")
        boolean allowNodeApi();
    }

    interface ControlPlane {
        /** Base URL of the control plane, e.g. http://cp:8480; absent: the agent runs standalone. */
        Optional<String> url();

        Optional<String> joinToken();

        /** The URL the control plane reaches this agent's /v1 API at; default http://<host name>:<http port>. */
        Optional<String> advertiseUrl();

        /** Used until the control plane says otherwise. */
        @WithDefault("10s")
        Duration heartbeatInterval();

        /** Longest wait between attempts while the control plane is unreachable. */
        @WithDefault("30s")
        Duration retryMax();
    }
}
