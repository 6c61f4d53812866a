package dev.flotilla.cri.streaming;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynStreamFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyVersion;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet side of a streaming URL over SPDY/3.1 (Netty's codec), for tests here and in the e2e suites (this
 * module's test jar): upgrade with a stream protocol, open streams with headers, send data, read what each stream
 * received.
 */
public final class SpdyTestClient implements AutoCloseable {
    private final EpollEventLoopGroup group = new EpollEventLoopGroup(1);
    private final Map<Integer, ByteArrayOutputStream> received = new ConcurrentHashMap<>();
    private final Map<Integer, CompletableFuture<Void>> replies = new ConcurrentHashMap<>();
    private final Map<Integer, CompletableFuture<Void>> finished = new ConcurrentHashMap<>();
    private Channel channel;
    private int nextId = 1;

    private SpdyTestClient() {
    }

    /** Connects to {@code url} and upgrades to SPDY/3.1 offering {@code protocols} (X-Stream-Protocol-Version). */
    public static SpdyTestClient connect(String url, List<String> protocols) throws Exception {
        SpdyTestClient client = new SpdyTestClient();
        try {
            client.upgrade(URI.create(url), protocols);
            return client;
        } catch (Exception e) {
            client.close();
            throw e;
        }
    }

    private void upgrade(URI uri, List<String> protocols) throws Exception {
        CompletableFuture<Void> upgraded = new CompletableFuture<>();
        channel = new Bootstrap().group(group).channel(EpollSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("http", new HttpClientCodec()).addLast("aggregator", new HttpObjectAggregator(65536))
                                .addLast("upgrade", new SimpleChannelInboundHandler<FullHttpResponse>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
                                        if (response.status().code() != 101) {
                                            upgraded.completeExceptionally(new IOException("HTTP " + response.status()
                                                    + ": " + response.content().toString(StandardCharsets.UTF_8)));
                                            return;
                                        }
                                        ctx.pipeline().addLast(new SpdyFrameCodec(SpdyVersion.SPDY_3_1))
                                                .addLast(new SpdySessionHandler(SpdyVersion.SPDY_3_1, false))
                                                .addLast(new Frames());
                                        ctx.pipeline().remove("aggregator");
                                        ctx.pipeline().remove("http");
                                        ctx.pipeline().remove(this);
                                        upgraded.complete(null);
                                    }
                                });
                    }
                }).connect(uri.getHost(), uri.getPort()).sync().channel();
        DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri.getRawPath());
        request.headers().set("Host", uri.getAuthority()).set("Connection", "Upgrade").set("Upgrade", "SPDY/3.1")
                .set("Content-Length", 0);
        protocols.forEach(p -> request.headers().add("X-Stream-Protocol-Version", p));
        channel.writeAndFlush(request);
        upgraded.get(30, TimeUnit.SECONDS);
    }

    private final class Frames extends SimpleChannelInboundHandler<Object> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Object frame) {
            if (frame instanceof SpdySynReplyFrame reply) {
                replies.computeIfAbsent(reply.streamId(), k -> new CompletableFuture<>()).complete(null);
            } else if (frame instanceof SpdyDataFrame data) {
                received.computeIfAbsent(data.streamId(), k -> new ByteArrayOutputStream())
                        .writeBytes(ByteBufUtil.getBytes(data.content()));
                if (data.isLast()) {
                    finished.computeIfAbsent(data.streamId(), k -> new CompletableFuture<>()).complete(null);
                }
            }
        }
    }

    /** Opens a stream with these headers and waits for the server's reply; returns its id. */
    public int open(Map<String, String> headers) throws Exception {
        int id = nextId;
        nextId += 2;
        DefaultSpdySynStreamFrame syn = new DefaultSpdySynStreamFrame(id, 0, (byte) 0);
        headers.forEach((name, value) -> syn.headers().set(name, value));
        channel.writeAndFlush(syn);
        replies.computeIfAbsent(id, k -> new CompletableFuture<>()).get(30, TimeUnit.SECONDS);
        return id;
    }

    public void send(int stream, String text, boolean last) {
        DefaultSpdyDataFrame frame = new DefaultSpdyDataFrame(stream, Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        frame.setLast(last);
        channel.writeAndFlush(frame);
    }

    /** Waits until the server closed its side of {@code stream}; false on timeout. */
    public boolean awaitEnd(int stream, long seconds) throws InterruptedException {
        try {
            finished.computeIfAbsent(stream, k -> new CompletableFuture<>()).get(seconds, TimeUnit.SECONDS);
            return true;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return false;
        }
    }

    /** Waits until the server closed the connection; false on timeout. */
    public boolean awaitClosed(long seconds) throws InterruptedException {
        return channel.closeFuture().await(seconds, TimeUnit.SECONDS);
    }

    /** What {@code stream} received so far, as text. */
    public String received(int stream) {
        ByteArrayOutputStream bytes = received.get(stream);
        return bytes == null ? "" : bytes.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
