package dev.flotilla.cri.streaming;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.ReferenceCountUtil;

import java.nio.charset.StandardCharsets;

/**
 * An exec or attach over WebSocket with the {@code v5.channel.k8s.io} or {@code v4.channel.k8s.io} protocol: every binary
 * message starts with its channel number (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); in v5 the message
 * {@code [255, channel]} closes a channel (the client's end of stdin). The final {@code Status} goes out on channel
 * 3, then a normal close.
 */
final class WebSocketExecHandler extends ChannelInboundHandlerAdapter implements ExecSession.Transport {
    static final String V5 = "v5.channel.k8s.io";
    static final String V4 = "v4.channel.k8s.io";
    private static final int STDIN = 0;
    private static final int STDOUT = 1;
    private static final int STDERR = 2;
    private static final int ERROR = 3;
    private static final int RESIZE = 4;
    private static final int CLOSE = 255;

    private final ExecSession session;
    private ChannelHandlerContext ctx;

    WebSocketExecHandler(ExecSession session) {
        this.session = session;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        // Every channel exists with the connection: the command starts now.
        session.start();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            switch (msg) {
                case BinaryWebSocketFrame frame -> message(ctx, frame.content());
                case PingWebSocketFrame ping -> ctx.writeAndFlush(new PongWebSocketFrame(ping.content().retain()));
                case CloseWebSocketFrame close -> {
                    session.closeStdin();
                    ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE))
                            .addListener(ChannelFutureListener.CLOSE);
                }
                default -> {
                    // text frames belong to the base64 protocols, which are not offered
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void message(ChannelHandlerContext ctx, ByteBuf content) {
        if (!content.isReadable()) {
            return;
        }
        int channel = content.readUnsignedByte();
        switch (channel) {
            case STDIN -> {
                if (content.isReadable() && session.streams().stdin()) {
                    byte[] bytes = ByteBufUtil.getBytes(content);
                    ctx.channel().config().setAutoRead(false);
                    session.stdin(bytes, () -> ctx.channel().config().setAutoRead(true));
                }
            }
            case RESIZE -> session.resize(content.toString(StandardCharsets.UTF_8));
            case CLOSE -> {
                if (content.isReadable() && content.readUnsignedByte() == STDIN) {
                    session.closeStdin();
                }
            }
            default -> {
                // the server's channels (stdout, stderr, error) carry nothing from the client
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        session.clientGone();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void stdout(byte[] data) {
        send(STDOUT, data);
    }

    @Override
    public void stderr(byte[] data) {
        send(STDERR, data);
    }

    private void send(int channel, byte[] data) {
        ByteBuf message = Unpooled.buffer(data.length + 1).writeByte(channel).writeBytes(data);
        ctx.writeAndFlush(new BinaryWebSocketFrame(message));
    }

    @Override
    public void finish(String statusJson) {
        send(ERROR, statusJson.getBytes(StandardCharsets.UTF_8));
        ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE))
                .addListener(ChannelFutureListener.CLOSE);
    }
}
