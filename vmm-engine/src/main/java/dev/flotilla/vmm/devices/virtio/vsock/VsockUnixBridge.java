package dev.flotilla.vmm.devices.virtio.vsock;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lets programs outside the JVM reach the guest's vsock ports through a Unix socket, in
 * Firecracker's style:
 * <ul>
 *   <li>Host → guest: connect to {@code path}, write {@code CONNECT <port>\n}, read
 *       {@code OK <host port>\n}; then the socket carries the stream. On failure the bridge closes
 *       the socket without a reply.</li>
 *   <li>Guest → host: a guest connection to host port P that no Java listener takes is forwarded
 *       to the Unix socket {@code <path>_P} if something listens there; otherwise the guest gets RST.</li>
 * </ul>
 * Each stream uses two virtual threads copying bytes; half-closes pass through both ways.
 */
public final class VsockUnixBridge implements AutoCloseable {

    /** Longest accepted command line: "CONNECT 4294967295\n" is 19 bytes; more is not a command. */
    static final int MAX_COMMAND_LENGTH = 32;
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final int COPY_BUFFER = 16 * 1024;
    private static final System.Logger LOG = System.getLogger(VsockUnixBridge.class.getName());

    private final VirtioVsock device;
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final AtomicInteger streams = new AtomicInteger();

    private VsockUnixBridge(VirtioVsock device, Path path) throws IOException {
        this.device = device;
        this.path = path;
        if (Files.exists(path)) {
            throw new IOException("cannot start the vsock bridge: %s already exists".formatted(path));
        }
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        device.setUnboundPortAcceptor(this::forwardToUnixSocket);
        acceptor = Thread.ofVirtual().name("vsock-bridge " + path).start(this::acceptLoop);
    }

    /** Listens on {@code path} (which must not exist) and forwards guest connections to {@code path_P}. */
    public static VsockUnixBridge start(VirtioVsock device, Path path) throws IOException {
        return new VsockUnixBridge(device, path);
    }

    public Path path() {
        return path;
    }

    /** Streams currently bridged. */
    public int activeStreams() {
        return streams.get();
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel client = server.accept();
                Thread.ofVirtual().name("vsock-bridge client").start(() -> serveClient(client));
            } catch (IOException e) {
                if (server.isOpen()) {
                    LOG.log(System.Logger.Level.WARNING, "vsock bridge %s: accept failed".formatted(path), e);
                }
                return;
            }
        }
    }

    private void serveClient(SocketChannel client) {
        VsockConnection connection;
        try {
            String command = readCommand(client);
            long port = parseConnect(command);
            connection = device.connect(port, CONNECT_TIMEOUT);
            writeFully(client, ("OK " + connection.hostPort() + "\n").getBytes(StandardCharsets.US_ASCII));
        } catch (IOException | IllegalArgumentException e) {
            LOG.log(System.Logger.Level.INFO, "vsock bridge %s: client refused: %s".formatted(path, e.getMessage()));
            closeQuietly(client);
            return;
        }
        splice(client, connection);
    }

    /** Reads one '\n'-terminated line byte by byte, so no stream bytes after it are consumed. */
    private static String readCommand(SocketChannel client) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        StringBuilder line = new StringBuilder();
        while (line.length() < MAX_COMMAND_LENGTH) {
            one.clear();
            if (client.read(one) < 0) {
                throw new IOException("client closed before sending a complete command");
            }
            char c = (char) (one.get(0) & 0xff);
            if (c == '\n') {
                return line.toString();
            }
            line.append(c);
        }
        throw new IOException("command longer than %d bytes".formatted(MAX_COMMAND_LENGTH));
    }

    /** "CONNECT <port>" → port; anything else is refused. */
    static long parseConnect(String command) {
        String trimmed = command.endsWith("\r") ? command.substring(0, command.length() - 1) : command;
        if (!trimmed.startsWith("CONNECT ")) {
            throw new IllegalArgumentException("expected \"CONNECT <port>\", got \"%s\"".formatted(trimmed));
        }
        String number = trimmed.substring("CONNECT ".length()).trim();
        try {
            long port = Long.parseLong(number);
            if (port < 0 || port >= 0xffff_ffffL) {
                throw new IllegalArgumentException("port %d is outside 0..4294967294".formatted(port));
            }
            return port;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("\"%s\" is not a port number".formatted(number));
        }
    }

    private boolean forwardToUnixSocket(VsockConnection pending) {
        Path target = Path.of(path + "_" + pending.hostPort());
        if (!Files.exists(target)) {
            return false;
        }
        SocketChannel channel;
        try {
            channel = SocketChannel.open(UnixDomainSocketAddress.of(target));
        } catch (IOException e) {
            LOG.log(System.Logger.Level.INFO, "vsock bridge: %s does not accept (%s); guest connection refused".formatted(target, e.getMessage()));
            return false;
        }
        splice(channel, pending);
        return true;
    }

    /** Copies both ways until both directions ended, then closes both ends. */
    private void splice(SocketChannel channel, VsockConnection connection) {
        streams.incrementAndGet();
        AtomicInteger running = new AtomicInteger(2);
        Runnable finished = () -> {
            if (running.decrementAndGet() == 0) {
                connection.close();
                closeQuietly(channel);
                streams.decrementAndGet();
            }
        };
        Thread.ofVirtual().name("vsock-bridge unix->guest").start(() -> {
            ByteBuffer buffer = ByteBuffer.allocate(COPY_BUFFER);
            try {
                while (channel.read(buffer.clear()) >= 0) {
                    connection.write(buffer.array(), 0, buffer.position());
                }
                connection.shutdownOutput();
            } catch (IOException e) {
                connection.abort("bridge socket failed: " + e.getMessage());
            } finally {
                finished.run();
            }
        });
        Thread.ofVirtual().name("vsock-bridge guest->unix").start(() -> {
            byte[] buffer = new byte[COPY_BUFFER];
            try {
                int n;
                while ((n = connection.read(buffer, 0, buffer.length)) >= 0) {
                    writeFully(channel, ByteBuffer.wrap(buffer, 0, n).array(), 0, n);
                }
                channel.shutdownOutput();
            } catch (IOException e) {
                closeQuietly(channel);
            } finally {
                finished.run();
            }
        });
    }

    private static void writeFully(SocketChannel channel, byte[] bytes) throws IOException {
        writeFully(channel, bytes, 0, bytes.length);
    }

    private static void writeFully(SocketChannel channel, byte[] bytes, int offset, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // already closed by the peer
        }
    }

    /** Stops accepting, stops forwarding guest connections, removes the socket file. Bridged streams stay up. */
    @Override
    public void close() throws IOException {
        device.setUnboundPortAcceptor(null);
        server.close();
        acceptor.interrupt();
        Files.deleteIfExists(path);
    }
}
