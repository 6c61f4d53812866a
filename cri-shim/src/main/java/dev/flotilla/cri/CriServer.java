package dev.flotilla.cri;

import dev.flotilla.cri.backend.CriBackends;
import dev.flotilla.cri.logs.ContainerLogs;
import dev.flotilla.cri.service.ImageServiceImpl;
import dev.flotilla.cri.service.PodNetworkSettings;
import dev.flotilla.cri.service.RuntimeServiceImpl;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The CRI endpoint of a node: runtime.v1 RuntimeService and ImageService over gRPC on a Unix socket, which the
 * kubelet reaches with {@code --container-runtime-endpoint=unix:///run/flotilla/cri.sock}.
 *
 * <p>It runs its own grpc-java server (Netty, epoll domain socket) rather than sharing the node-agent's HTTP
 * server, so the CRI is only reachable through the socket (mode 0660) and never over TCP. Calls run on virtual
 * threads: backends may block for a whole microVM boot or image pull without starving other calls.
 */
public final class CriServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(CriServer.class.getName());
    /** Largest request accepted; CRI requests are small, this only bounds hostile ones. */
    private static final int MAX_REQUEST_BYTES = 16 << 20;

    private final CriConfig config;
    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService calls;
    private final ContainerLogs logs;
    private final PodNetworkSettings podNetwork;

    private CriServer(CriConfig config, Server server, EventLoopGroup boss, EventLoopGroup workers,
                      ExecutorService calls, ContainerLogs logs, PodNetworkSettings podNetwork) {
        this.config = config;
        this.server = server;
        this.boss = boss;
        this.workers = workers;
        this.calls = calls;
        this.logs = logs;
        this.podNetwork = podNetwork;
    }

    /**
     * Binds the socket and starts serving. A stale socket file left by a previous run is replaced; a socket some
     * other process still serves is not, and neither is any other kind of file at that path.
     */
    public static CriServer start(CriConfig config, CriBackends backends) throws IOException {
        return start(config, backends, new ContainerLogs());
    }

    /**
     * As {@link #start(CriConfig, CriBackends)}, with the log registry the container backend was built with (it
     * opens each running container's {@link dev.flotilla.cri.logs.CriLogWriter} there).
     */
    public static CriServer start(CriConfig config, CriBackends backends, ContainerLogs logs) throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("the CRI socket needs Netty's native epoll transport, which is unavailable here: "
                    + Epoll.unavailabilityCause());
        }
        Path socket = config.socket();
        prepareSocketPath(socket);
        PodNetworkSettings podNetwork = new PodNetworkSettings();
        EventLoopGroup boss = new EpollEventLoopGroup(1);
        EventLoopGroup workers = new EpollEventLoopGroup(2);
        ExecutorService calls = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("cri-call-", 0).factory());
        Server server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                .executor(calls)
                .maxInboundMessageSize(MAX_REQUEST_BYTES)
                // grpc-java sets SO_KEEPALIVE on every accepted channel; a Unix socket has no such option and Netty
                // would log a warning per kubelet connection. A null value removes the option.
                .withChildOption(io.netty.channel.ChannelOption.SO_KEEPALIVE, null)
                // A local socket has no middlebox to protect: accept client keepalive pings generously instead of
                // answering a chatty client with GOAWAY (grpc-java's default minimum is five minutes).
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .addService(new RuntimeServiceImpl(config, backends, logs, podNetwork))
                .addService(new ImageServiceImpl(backends))
                .build();
        try {
            server.start();
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
        } catch (IOException | RuntimeException e) {
            server.shutdownNow();
            boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            calls.shutdownNow();
            throw new IOException("serving the CRI on " + socket + " failed: " + e.getMessage(), e);
        }
        LOG.log(System.Logger.Level.INFO, () -> "CRI v1 served on unix://" + socket);
        return new CriServer(config, server, boss, workers, calls, logs, podNetwork);
    }

    public Path socket() {
        return config.socket();
    }

    /** Where container backends register the CRI log writers of running containers. */
    public ContainerLogs logs() {
        return logs;
    }

    /** Pod CIDRs pushed by the kubelet, for the node-agent's CNI setup. */
    public PodNetworkSettings podNetwork() {
        return podNetwork;
    }

    /** Stops accepting calls, gives running ones five seconds, then removes the socket file. */
    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            calls.shutdownNow();
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            try {
                Files.deleteIfExists(config.socket());
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "could not remove the CRI socket " + config.socket(), e);
            }
        }
    }

    private static void prepareSocketPath(Path socket) throws IOException {
        Files.createDirectories(socket.getParent());
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isRegularFile(socket, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(socket,
                LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(socket)) {
            throw new IOException("the CRI socket path " + socket + " is taken by a file, directory or link that "
                    + "is not a socket; remove it or configure another path");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            throw new IOException("another process already serves " + socket
                    + " (is a second node-agent or another container runtime running?)");
        } catch (IOException refused) {
            if (refused.getMessage() != null && refused.getMessage().startsWith("another process")) {
                throw refused;
            }
            // Nobody listens: the file is left over from a previous run.
            Files.delete(socket);
        }
    }
}
