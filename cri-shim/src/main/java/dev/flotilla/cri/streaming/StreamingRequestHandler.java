package dev.flotilla.cri.streaming;

import dev.flotilla.cri.v1.PortForwardRequest;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdySessionHandler;
import io.netty.handler.codec.spdy.SpdyVersion;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The HTTP request of a streaming client: {@code /exec/<token>} or {@code /attach/<token>} with an upgrade to
 * SPDY/3.1 or WebSocket, or
 * {@code /portforward/<token>} with an upgrade to SPDY/3.1. Anything
 * else gets a plain-text 4xx saying what was wrong, and the connection closes.
 */
final class StreamingRequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final String PROTOCOL_HEADER = "X-Stream-Protocol-Version";
    static final String PORT_FORWARD_PROTOCOL = "portforward.k8s.io";
    private static final int MAX_WEBSOCKET_MESSAGE = 1 << 20;

    private final StreamingServer server;

    StreamingRequestHandler(StreamingServer server) {
        this.server = server;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        String path = request.uri().replaceFirst("\\?.*", "");
        boolean exec = path.startsWith("/exec/");
        boolean attach = path.startsWith("/attach/");
        boolean forward = path.startsWith("/portforward/");
        if (!(exec || attach || forward) || !(HttpMethod.GET.equals(request.method()) || HttpMethod.POST.equals(request.method()))) {
            refuse(ctx, HttpResponseStatus.NOT_FOUND, "no such streaming endpoint: " + request.method() + " " + path
                    + " (sessions are at the URL the Exec, Attach or PortForward call answered)");
            return;
        }
        String upgrade = request.headers().get(HttpHeaderNames.UPGRADE, "");
        boolean websocket = upgrade.equalsIgnoreCase("websocket");
        boolean spdy = upgrade.equalsIgnoreCase("SPDY/3.1");
        if (forward) {
            if (!spdy) {
                refuse(ctx, HttpResponseStatus.BAD_REQUEST, "port forwarding needs a connection upgrade to SPDY/3.1 "
                        + "(" + PORT_FORWARD_PROTOCOL + ")");
                return;
            }
            if (!offeredProtocols(request, false).contains(PORT_FORWARD_PROTOCOL)) {
                refuse(ctx, HttpResponseStatus.FORBIDDEN, "unable to upgrade: the client does not offer "
                        + PORT_FORWARD_PROTOCOL);
                return;
            }
            Optional<PortForwardRequest> ports = server.takePortForward(path.substring("/portforward/".length()));
            if (ports.isEmpty()) {
                refuse(ctx, HttpResponseStatus.NOT_FOUND, "unknown or expired port-forward session (a URL is good once, "
                        + "within " + StreamingServer.TOKEN_TTL.toSeconds() + " s of the PortForward call)");
                return;
            }
            upgradeSpdy(ctx, PORT_FORWARD_PROTOCOL, new SpdyPortForwardHandler(server.ports(), ports.get()));
            return;
        }
        if (!websocket && !spdy) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, "an exec or attach session needs a connection upgrade to "
                    + "SPDY/3.1 or websocket (kubectl exec, kubectl attach)");
            return;
        }
        List<String> offered = offeredProtocols(request, websocket);
        Optional<String> protocol = websocket
                ? Optional.of(offered.contains(WebSocketExecHandler.V5) ? WebSocketExecHandler.V5
                        : offered.contains(WebSocketExecHandler.V4) ? WebSocketExecHandler.V4 : "").filter(p -> !p.isEmpty())
                : Optional.of(WebSocketExecHandler.V4).filter(offered::contains);
        if (protocol.isEmpty()) {
            refuse(ctx, HttpResponseStatus.FORBIDDEN, "unable to upgrade: none of the offered stream protocols "
                    + offered + " is supported (" + (websocket ? WebSocketExecHandler.V5 + ", " : "")
                    + WebSocketExecHandler.V4 + ")");
            return;
        }
        Optional<ExecSession> found = exec
                ? server.takeExec(path.substring("/exec/".length())).map(r -> ExecSession.exec(server.exec(), r))
                : server.takeAttach(path.substring("/attach/".length())).map(r -> ExecSession.attach(server.attach(), r));
        if (found.isEmpty()) {
            refuse(ctx, HttpResponseStatus.NOT_FOUND, "unknown or expired " + (exec ? "exec" : "attach") + " session "
                    + "(a URL is good once, within " + StreamingServer.TOKEN_TTL.toSeconds() + " s of the "
                    + (exec ? "Exec" : "Attach") + " call)");
            return;
        }
        ExecSession session = found.get();
        if (websocket) {
            upgradeWebSocket(ctx, request, session, protocol.get());
        } else {
            SpdyExecHandler handler = new SpdyExecHandler(session);
            session.transport(handler);
            upgradeSpdy(ctx, WebSocketExecHandler.V4, handler);
        }
    }

    private static List<String> offeredProtocols(FullHttpRequest request, boolean websocket) {
        List<String> values = websocket ? request.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)
                : request.headers().getAll(PROTOCOL_HEADER);
        return values.stream().flatMap(v -> Arrays.stream(v.split(","))).map(String::strip).filter(v -> !v.isEmpty())
                .toList();
    }

    private void upgradeSpdy(ChannelHandlerContext ctx, String protocol, ChannelHandler handler) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE)
                .set(HttpHeaderNames.UPGRADE, "SPDY/3.1").set(PROTOCOL_HEADER, protocol);
        ctx.writeAndFlush(response);
        // The client sends SPDY frames only after reading the 101: switch the pipeline now.
        ChannelPipeline pipeline = ctx.pipeline();
        pipeline.addLast("spdy-codec", new SpdyFrameCodec(SpdyVersion.SPDY_3_1))
                .addLast("spdy-session", new SpdySessionHandler(SpdyVersion.SPDY_3_1, true))
                .addLast("stream", handler);
        pipeline.remove("aggregator");
        pipeline.remove("http");
        pipeline.remove(this);
    }

    private void upgradeWebSocket(ChannelHandlerContext ctx, FullHttpRequest request, ExecSession session, String protocol) {
        String location = "ws://" + request.headers().get(HttpHeaderNames.HOST, "localhost") + request.uri();
        WebSocketServerHandshaker handshaker = new WebSocketServerHandshakerFactory(location, protocol, false,
                MAX_WEBSOCKET_MESSAGE).newHandshaker(request);
        if (handshaker == null) {
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
            return;
        }
        ChannelPipeline pipeline = ctx.pipeline();
        handshaker.handshake(ctx.channel(), request).addListener((ChannelFutureListener) done -> {
            if (!done.isSuccess()) {
                ctx.close();
                return;
            }
            WebSocketExecHandler handler = new WebSocketExecHandler(session);
            session.transport(handler);
            pipeline.addLast("ws-aggregator", new WebSocketFrameAggregator(MAX_WEBSOCKET_MESSAGE)).addLast("exec", handler);
            pipeline.remove(StreamingRequestHandler.this);
        });
    }

    private static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String message) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(message + "\n", StandardCharsets.UTF_8));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        HttpUtil.setContentLength(response, response.content().readableBytes());
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
}
