package dev.flotilla.cri.streaming;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * An exec or attach over SPDY/3.1 with the {@code v4.channel.k8s.io} protocol, as the kubelet proxies it: the client opens one
 * stream per channel, named by its {@code streamtype} header (error, stdin, stdout, stderr, resize); the command
 * starts once every stream the request asked for is open. Output goes out as data on the stdout/stderr streams, the
 * final {@code Status} as JSON on the error stream, then every stream is closed and the connection with them.
 * Netty's SpdySessionHandler (before this handler) keeps the flow-control windows and answers pings.
 */
final class SpdyExecHandler extends ChannelInboundHandlerAdapter implements ExecSession.Transport {
    /** How long the client may take to open its streams, as the kubelet allows. */
    static final long STREAMS_TIMEOUT_SECONDS = 30;

    private final ExecSession session;
    private final Map<String, Integer> streams = new TreeMap<>();
    private final List<String> expected = new ArrayList<>();
    private final StringBuilder resizeText = new StringBuilder();
    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> streamsTimeout;

    SpdyExecHandler(ExecSession session) {
        this.session = session;
        var r = session.streams();
        expected.add("error");
        if (r.stdin()) {
            expected.add("stdin");
        }
        if (r.stdout()) {
            expected.add("stdout");
        }
        if (r.stderr() && !r.tty()) {
            expected.add("stderr");
        }
        if (r.tty()) {
            expected.add("resize");
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        streamsTimeout = ctx.executor().schedule(() -> {
            if (!streams.keySet().containsAll(expected)) {
                ctx.close();
            }
        }, STREAMS_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            switch (msg) {
                case SpdySynStreamFrame syn -> opened(ctx, syn);
                case SpdyDataFrame data -> data(ctx, data);
                case SpdyRstStreamFrame reset -> {
                    if (id("stdin") == reset.streamId()) {
                        session.closeStdin();
                    }
                }
                default -> {
                    // settings, window updates, pings and goaway are the session handler's
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void opened(ChannelHandlerContext ctx, SpdySynStreamFrame syn) {
        String type = syn.headers().getAsString("streamtype");
        if (type == null || !expected.contains(type) || streams.containsKey(type)) {
            ctx.close(); // a stream this exec did not ask for: not a client of this protocol
            return;
        }
        streams.put(type, syn.streamId());
        DefaultSpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(syn.streamId());
        // Never an empty header block: Netty encodes one as zero bytes, which SPDY decoders (Netty's, Go's) reject.
        reply.headers().set("streamtype", type);
        ctx.writeAndFlush(reply);
        if (streams.keySet().containsAll(expected)) {
            streamsTimeout.cancel(false);
            session.start();
        }
    }

    private void data(ChannelHandlerContext ctx, SpdyDataFrame frame) {
        int id = frame.streamId();
        if (id == id("stdin")) {
            if (frame.content().isReadable()) {
                byte[] bytes = ByteBufUtil.getBytes(frame.content());
                ctx.channel().config().setAutoRead(false);
                session.stdin(bytes, () -> ctx.channel().config().setAutoRead(true));
            }
            if (frame.isLast()) {
                session.closeStdin();
            }
        } else if (id == id("resize")) {
            resizeText.append(frame.content().toString(StandardCharsets.UTF_8));
            int end;
            while ((end = resizeText.indexOf("}")) >= 0) {
                session.resize(resizeText.substring(0, end + 1));
                resizeText.delete(0, end + 1);
            }
            if (resizeText.length() > 4096) {
                resizeText.setLength(0); // not JSON objects: ignore rather than grow
            }
        }
    }

    private int id(String type) {
        return streams.getOrDefault(type, -1);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (streamsTimeout != null) {
            streamsTimeout.cancel(false);
        }
        session.clientGone();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void stdout(byte[] data) {
        send("stdout", data);
    }

    @Override
    public void stderr(byte[] data) {
        // With a terminal there is no stderr stream: everything is stdout already.
        send("stderr", data);
    }

    private void send(String type, byte[] data) {
        ctx.executor().execute(() -> {
            int id = id(type);
            if (id > 0 && ctx.channel().isActive()) {
                ctx.writeAndFlush(new DefaultSpdyDataFrame(id, Unpooled.wrappedBuffer(data)));
            }
        });
    }

    @Override
    public void finish(String statusJson) {
        ctx.executor().execute(() -> {
            if (!ctx.channel().isActive()) {
                return;
            }
            int error = id("error");
            if (error > 0) {
                ctx.write(new DefaultSpdyDataFrame(error, Unpooled.copiedBuffer(statusJson, StandardCharsets.UTF_8)));
            }
            ChannelFuture last = null;
            for (int id : streams.values()) {
                DefaultSpdyDataFrame fin = new DefaultSpdyDataFrame(id);
                fin.setLast(true);
                last = ctx.write(fin);
            }
            ctx.flush();
            // Closed below the session handler: its own close waits for every stream to close on both sides,
            // and clients do not close the streams they only read (the kubelet's server just drops the connection).
            ChannelHandlerContext below = ctx.pipeline().context(SpdyFrameCodec.class);
            if (last == null) {
                below.close();
            } else {
                last.addListener(done -> below.close());
            }
        });
    }
}
