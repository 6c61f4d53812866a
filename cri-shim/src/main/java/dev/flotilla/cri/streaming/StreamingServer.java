package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.AttachBackend;
import dev.flotilla.cri.backend.ExecBackend;
import dev.flotilla.cri.backend.PortForwardBackend;
import dev.flotilla.cri.backend.StreamingBackend;
import dev.flotilla.cri.v1.AttachRequest;
import dev.flotilla.cri.v1.ExecRequest;
import dev.flotilla.cri.v1.PortForwardRequest;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet's streaming server for Exec: the Exec RPC registers the request under a random one-time token and
 * answers {@code http://<address>/exec/<token>}; the kubelet (or crictl) connects there and upgrades the connection
 * to SPDY/3.1 ({@code v4.channel.k8s.io}) or WebSocket ({@code v5}/{@code v4.channel.k8s.io}), and the command runs
 * in its container through the {@link ExecBackend} for as long as the connection lives. PortForward likewise
 * answers {@code /portforward/<token>} (SPDY/3.1, {@code portforward.k8s.io}): each connection the client opens is
 * relayed to the pod's port as the {@link PortForwardBackend} gives it. A token is good for one connection within
 * {@link #TOKEN_TTL}, as with the kubelet's own server. Attach answers {@code /attach/<token>} with the same
 * protocols as Exec, joining the container's main process through the {@link AttachBackend}.
 *
 * <p>Plain HTTP on the address given (loopback by default, like containerd's): the kubelet on the same node is the
 * client, and the token is the only credential, so do not bind it to a reachable address on an untrusted network.
 */
public final class StreamingServer implements StreamingBackend, AutoCloseable {
    static final Duration TOKEN_TTL = Duration.ofMinutes(1);
    /** Pending requests kept at most (each needs a fresh Exec RPC from the kubelet, so this is only a guard). */
    private static final int MAX_PENDING = 4096;

    private final ExecBackend exec;
    private final PortForwardBackend ports;
    private final AttachBackend attach;
    private final EventLoopGroup boss = new EpollEventLoopGroup(1);
    private final EventLoopGroup workers = new EpollEventLoopGroup(2);
    private final Map<String, Pending<ExecRequest>> execs = new ConcurrentHashMap<>();
    private final Map<String, Pending<PortForwardRequest>> forwards = new ConcurrentHashMap<>();
    private final Map<String, Pending<AttachRequest>> attaches = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private volatile Channel channel;
    private volatile String baseUrl;

    private record Pending<T>(T request, long expiresNanos) {
    }

    private StreamingServer(ExecBackend exec, PortForwardBackend ports, AttachBackend attach) {
        this.exec = exec;
        this.ports = ports;
        this.attach = attach;
    }

    /** Serves Exec on {@code address} (port 0: any free port); PortForward and Attach are UNIMPLEMENTED. */
    public static StreamingServer start(InetSocketAddress address, ExecBackend exec) throws IOException {
        return start(address, exec, null, null);
    }

    /**
     * Serves Exec and, when their backends are given, PortForward and Attach on {@code address} (port 0: any free
     * port).
     */
    public static StreamingServer start(InetSocketAddress address, ExecBackend exec, PortForwardBackend ports,
                                        AttachBackend attach) throws IOException {
        StreamingServer server = new StreamingServer(exec, ports, attach);
        try {
            server.channel = new ServerBootstrap().group(server.boss, server.workers).channel(EpollServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast("http", new HttpServerCodec())
                                    .addLast("aggregator", new HttpObjectAggregator(64 * 1024))
                                    .addLast("upgrade", new StreamingRequestHandler(server));
                        }
                    }).bind(address).sync().channel();
        } catch (Exception e) {
            server.close();
            throw new IOException("the CRI streaming server cannot listen on " + address + ": " + e.getMessage(), e);
        }
        InetSocketAddress bound = server.address();
        String host = bound.getAddress().getHostAddress();
        server.baseUrl = "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + bound.getPort();
        return server;
    }

    /** Loopback, any free port: what a node needs when the kubelet runs beside the agent. */
    public static InetSocketAddress loopback(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public String execUrl(ExecRequest request) {
        exec.checkExec(request);
        return baseUrl + "/exec/" + register(execs, request);
    }

    @Override
    public String attachUrl(AttachRequest request) {
        if (attach == null) {
            throw CriException.unimplemented("Attach (kubectl attach) is not served by this node; kubectl exec and "
                    + "kubectl logs work");
        }
        attach.checkAttach(request);
        return baseUrl + "/attach/" + register(attaches, request);
    }

    @Override
    public String portForwardUrl(PortForwardRequest request) {
        if (ports == null) {
            throw CriException.unimplemented("PortForward (kubectl port-forward) is not served by this node");
        }
        ports.checkPortForward(request);
        return baseUrl + "/portforward/" + register(forwards, request);
    }

    private <T> String register(Map<String, Pending<T>> pending, T request) {
        long now = System.nanoTime();
        execs.values().removeIf(p -> now - p.expiresNanos() > 0);
        forwards.values().removeIf(p -> now - p.expiresNanos() > 0);
        attaches.values().removeIf(p -> now - p.expiresNanos() > 0);
        if (execs.size() + forwards.size() + attaches.size() >= MAX_PENDING) {
            throw new CriException(CriException.Reason.RESOURCE_EXHAUSTED, MAX_PENDING + " streaming sessions are "
                    + "waiting for their client; try again once some connected or expired");
        }
        byte[] bytes = new byte[16];
        random.nextBytes(bytes);
        String token = HexFormat.of().formatHex(bytes);
        pending.put(token, new Pending<>(request, now + TOKEN_TTL.toNanos()));
        return token;
    }

    /** The exec request a token stands for, once: empty when unknown or expired. */
    Optional<ExecRequest> takeExec(String token) {
        return take(execs, token);
    }

    /** The port-forward request a token stands for, once: empty when unknown or expired. */
    Optional<PortForwardRequest> takePortForward(String token) {
        return take(forwards, token);
    }

    /** The attach request a token stands for, once: empty when unknown or expired. */
    Optional<AttachRequest> takeAttach(String token) {
        return take(attaches, token);
    }

    AttachBackend attach() {
        return attach;
    }

    private static <T> Optional<T> take(Map<String, Pending<T>> pending, String token) {
        Pending<T> p = pending.remove(token);
        if (p == null || System.nanoTime() - p.expiresNanos() > 0) {
            return Optional.empty();
        }
        return Optional.of(p.request());
    }

    PortForwardBackend ports() {
        return ports;
    }

    ExecBackend exec() {
        return exec;
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
