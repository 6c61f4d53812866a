package dev.flotilla.cri.streaming;

import dev.flotilla.cri.CriException;
import dev.flotilla.cri.backend.PortForwardBackend;
import dev.flotilla.cri.v1.PortForwardRequest;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Port forwarding over SPDY/3.1 with {@code portforward.k8s.io}, as the kubelet serves it: for every connection the
 * client forwards it opens two streams with the same {@code requestid} header and the pod's {@code port}: an error
 * stream (where a failure to connect is reported as text) and a data stream, relayed byte for byte to a TCP connection
 * to the pod's port (from the {@link PortForwardBackend}). Each side's end is passed on as a half-close. The TCP
 * connections use this connection's event loop, so the state here is single-threaded.
 */
final class SpdyPortForwardHandler extends ChannelInboundHandlerAdapter {
    private final PortForwardBackend backend;
    private final PortForwardRequest request;
    private final Map<String, Forward> byRequest = new HashMap<>();
    private final Map<Integer, Forward> byStream = new HashMap<>();
    private ChannelHandlerContext ctx;

    /** One forwarded connection: its two streams and its TCP connection to the pod. */
    private final class Forward {
        final int port;
        int errorStream = -1;
        int dataStream = -1;
        Channel tcp;
        boolean connecting;
        boolean clientClosed;
        boolean dataClosed;
        boolean errorClosed;
        final List<ByteBuf> beforeConnect = new ArrayList<>();

        Forward(int port) {
            this.port = port;
        }

        void toClient(ByteBuf data) {
            if (dataClosed || !ctx.channel().isActive()) {
                data.release();
                return;
            }
            ctx.writeAndFlush(new DefaultSpdyDataFrame(dataStream, data));
        }

        void closeData() {
            if (!dataClosed && dataStream > 0 && ctx.channel().isActive()) {
                dataClosed = true;
                DefaultSpdyDataFrame fin = new DefaultSpdyDataFrame(dataStream);
                fin.setLast(true);
                ctx.writeAndFlush(fin);
            }
        }

        /** The end of this forward: clients read the error stream to its end before they let go of a connection. */
        void closeError() {
            if (!errorClosed && errorStream > 0 && ctx.channel().isActive()) {
                errorClosed = true;
                DefaultSpdyDataFrame fin = new DefaultSpdyDataFrame(errorStream);
                fin.setLast(true);
                ctx.writeAndFlush(fin);
            }
        }

        void fail(String message) {
            if (!errorClosed && errorStream > 0 && ctx.channel().isActive()) {
                errorClosed = true;
                DefaultSpdyDataFrame error = new DefaultSpdyDataFrame(errorStream,
                        Unpooled.copiedBuffer(message, StandardCharsets.UTF_8));
                error.setLast(true);
                ctx.writeAndFlush(error);
            }
            closeData();
            release();
        }

        void release() {
            beforeConnect.forEach(ByteBuf::release);
            beforeConnect.clear();
            if (tcp != null) {
                tcp.close();
            }
        }
    }

    SpdyPortForwardHandler(PortForwardBackend backend, PortForwardRequest request) {
        this.backend = backend;
        this.request = request;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            switch (msg) {
                case SpdySynStreamFrame syn -> opened(syn);
                case SpdyDataFrame data -> data(data);
                case SpdyRstStreamFrame reset -> {
                    Forward f = byStream.get(reset.streamId());
                    if (f != null) {
                        f.dataClosed = true;
                        f.errorClosed = true;
                        f.release();
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

    private void opened(SpdySynStreamFrame syn) {
        String type = syn.headers().getAsString("streamtype");
        String requestId = syn.headers().getAsString("requestid");
        String portText = syn.headers().getAsString("port");
        DefaultSpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(syn.streamId());
        // Never an empty header block: Netty encodes one as zero bytes, which SPDY decoders reject.
        reply.headers().set("streamtype", type == null ? "" : type);
        ctx.writeAndFlush(reply);
        int port;
        try {
            port = Integer.parseInt(portText == null ? "" : portText.strip());
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (requestId == null || (!"error".equals(type) && !"data".equals(type)) || port < 1 || port > 65535) {
            ctx.close(); // not a port-forward client
            return;
        }
        Forward f = byRequest.get(requestId);
        if (f == null) {
            f = new Forward(port);
            byRequest.put(requestId, f);
        }
        byStream.put(syn.streamId(), f);
        if (type.equals("error")) {
            f.errorStream = syn.streamId();
        } else {
            f.dataStream = syn.streamId();
        }
        if (f.errorStream > 0 && f.dataStream > 0 && !f.connecting) {
            f.connecting = true;
            connect(f);
        }
    }

    private void connect(Forward f) {
        if (!request.getPortList().isEmpty() && !request.getPortList().contains(f.port)) {
            f.fail("port " + f.port + " is not among the ports this port-forward session was opened for "
                    + request.getPortList());
            return;
        }
        InetSocketAddress target;
        try {
            target = backend.target(request.getPodSandboxId(), f.port);
        } catch (CriException e) {
            f.fail(e.getMessage());
            return;
        }
        new Bootstrap().group(ctx.channel().eventLoop()).channel(EpollSocketChannel.class)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new ToClient(f)).connect(target).addListener((ChannelFutureListener) done -> {
                    if (!done.isSuccess()) {
                        f.fail("error forwarding port " + f.port + " to pod " + request.getPodSandboxId() + ": "
                                + "cannot connect to " + target + ": " + done.cause().getMessage());
                        return;
                    }
                    f.tcp = done.channel();
                    if (!ctx.channel().isActive() || f.dataClosed) {
                        f.release();
                        return;
                    }
                    for (ByteBuf data : f.beforeConnect) {
                        f.tcp.write(data);
                    }
                    f.beforeConnect.clear();
                    f.tcp.flush();
                    if (f.clientClosed) {
                        ((SocketChannel) f.tcp).shutdownOutput();
                    }
                });
    }

    private void data(SpdyDataFrame frame) {
        Forward f = byStream.get(frame.streamId());
        if (f == null || frame.streamId() != f.dataStream) {
            return; // the client writes nothing on the error stream
        }
        if (frame.content().isReadable()) {
            ByteBuf data = frame.content().retain();
            if (f.tcp == null) {
                f.beforeConnect.add(data);
            } else {
                f.tcp.writeAndFlush(data);
            }
        }
        if (frame.isLast()) {
            f.clientClosed = true;
            if (f.tcp != null) {
                if (f.dataClosed) {
                    f.tcp.close(); // the pod had finished sending already
                } else {
                    ((SocketChannel) f.tcp).shutdownOutput();
                }
            }
        }
    }

    /** The pod's side of one forwarded connection. */
    private final class ToClient extends ChannelInboundHandlerAdapter {
        private final Forward f;

        ToClient(Forward f) {
            this.f = f;
        }

        @Override
        public void channelRead(ChannelHandlerContext tcp, Object msg) {
            f.toClient((ByteBuf) msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext tcp, Object event) {
            if (event instanceof ChannelInputShutdownEvent) {
                f.closeData(); // the pod finished sending
                if (f.clientClosed) {
                    tcp.close(); // and so had the client: this connection is done
                }
            }
            tcp.fireUserEventTriggered(event);
        }

        @Override
        public void channelInactive(ChannelHandlerContext tcp) {
            f.closeData();
            f.closeError();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext tcp, Throwable cause) {
            tcp.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (Forward f : byRequest.values()) {
            f.release();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
