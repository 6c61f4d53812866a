package dev.flotilla.cri.streaming;

import dev.flotilla.cri.v1.ExecRequest;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
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
 * The HTTP request of a streaming client: {@code /exec/<token>} with an upgrade to SPDY/3.1 or WebSocket. Anything
 * else gets a plain-text 4xx saying what was wrong, and the connection closes.
 */
final class StreamingRequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final String PROTOCOL_HEADER = "X-Stream-Protocol-Version";
    private static final int MAX_WEBSOCKET_MESSAGE = 1 << 20;

    private final StreamingServer server;

    StreamingRequestHandler(StreamingServer server) {
        this.server = server;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        String path = request.uri().replaceFirst("\\?.*", "");
        if (!path.startsWith("/exec/") || !(HttpMethod.GET.equals(request.method()) || HttpMethod.POST.equals(request.method()))) {
            refuse(ctx, HttpResponseStatus.NOT_FOUND, "no such streaming endpoint: " + request.method() + " " + path
                    + " (exec sessions are at the URL the Exec call answered)");
            return;
        }
        String upgrade = request.headers().get(HttpHeaderNames.UPGRADE, "");
        boolean websocket = upgrade.equalsIgnoreCase("websocket");
        boolean spdy = upgrade.equalsIgnoreCase("SPDY/3.1");
        if (!websocket && !spdy) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, "an exec session needs a connection upgrade to SPDY/3.1 or "
                    + "websocket (kubectl exec, crictl exec)");
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
        Optional<ExecRequest> exec = server.take(path.substring("/exec/".length()));
        if (exec.isEmpty()) {
            refuse(ctx, HttpResponseStatus.NOT_FOUND, "unknown or expired exec session (a URL is good once, within "
                    + StreamingServer.TOKEN_TTL.toSeconds() + " s of the Exec call)");
            return;
        }
        if (websocket) {
            upgradeWebSocket(ctx, request, exec.get(), protocol.get());
        } else {
            upgradeSpdy(ctx, exec.get());
        }
    }

    private static List<String> offeredProtocols(FullHttpRequest request, boolean websocket) {
        List<String> values = websocket ? request.headers().getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)
                : request.headers().getAll(PROTOCOL_HEADER);
        return values.stream().flatMap(v -> Arrays.stream(v.split(","))).map(String::strip).filter(v -> !v.isEmpty())
                .toList();
    }

    private void upgradeSpdy(ChannelHandlerContext ctx, ExecRequest exec) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE)
                .set(HttpHeaderNames.UPGRADE, "SPDY/3.1").set(PROTOCOL_HEADER, WebSocketExecHandler.V4);
        ctx.writeAndFlush(response);
        // The client sends SPDY frames only after reading the 101: switch the pipeline now.
        ChannelPipeline pipeline = ctx.pipeline();
        ExecSession session = new ExecSession(server.exec(), exec);
        SpdyExecHandler handler = new SpdyExecHandler(session);
        session.transport(handler);
        pipeline.addLast("spdy-codec", new SpdyFrameCodec(SpdyVersion.SPDY_3_1))
                .addLast("spdy-session", new SpdySessionHandler(SpdyVersion.SPDY_3_1, true))
                .addLast("exec", handler);
        pipeline.remove("aggregator");
        pipeline.remove("http");
        pipeline.remove(this);
    }

    private void upgradeWebSocket(ChannelHandlerContext ctx, FullHttpRequest request, ExecRequest exec, String protocol) {
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
            ExecSession session = new ExecSession(server.exec(), exec);
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
