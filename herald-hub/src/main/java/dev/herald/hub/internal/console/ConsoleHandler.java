package dev.herald.hub.internal.console;

import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.http.Router;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code GET /} and {@code GET /console/<file>}: the web console, a single page of plain HTML, CSS
 * and JavaScript modules read from the jar once, at start. The files are static and the same for
 * everyone: they hold no configuration and no secret, so serving them without a token reveals
 * nothing; everything the page shows it fetches from the API with the user's token.
 *
 * <p>Every answer carries a strict {@link #CONTENT_SECURITY_POLICY}: scripts, styles and
 * connections only from the hub itself, no inline script or style, no plugin, no frame, and Trusted
 * Types required for every HTML sink, so even a bug that put event data into {@code innerHTML}
 * would throw instead of running it. Files are revalidated with an {@code ETag} (304 when
 * unchanged).
 */
@ChannelHandler.Sharable
public final class ConsoleHandler extends ChannelInboundHandlerAdapter {
  /** The policy on every console response. */
  public static final String CONTENT_SECURITY_POLICY =
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
          + " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none';"
          + " require-trusted-types-for 'script'; trusted-types 'none'";

  /** Where the files are, on the classpath. */
  static final String RESOURCES = "/dev/herald/hub/console/";

  /** The files the console is made of, and their media types; nothing else is served. */
  static final Map<String, String> FILES = files();

  private final Map<String, File> files = new LinkedHashMap<>();

  private record File(byte[] body, String contentType, String etag) {}

  /**
   * Reads the console's files from the jar.
   *
   * @throws IllegalStateException if one is missing (a broken build)
   */
  public ConsoleHandler() {
    for (Map.Entry<String, String> entry : FILES.entrySet()) {
      byte[] body = read(entry.getKey());
      files.put(entry.getKey(), new File(body, entry.getValue(), etag(body)));
    }
  }

  private static Map<String, String> files() {
    Map<String, String> files = new LinkedHashMap<>();
    String js = "text/javascript; charset=utf-8";
    files.put("index.html", "text/html; charset=utf-8");
    files.put("console.css", "text/css; charset=utf-8");
    files.put("console.js", js);
    files.put("api.js", js);
    files.put("stream.js", js);
    files.put("tail.js", js);
    files.put("panels.js", js);
    files.put("icon.svg", "image/svg+xml");
    return Map.copyOf(files);
  }

  private static byte[] read(String name) {
    try (InputStream in = ConsoleHandler.class.getResourceAsStream(RESOURCES + name)) {
      if (in == null) {
        throw new IllegalStateException("the console file " + name + " is missing from the jar");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the console file " + name, e);
    }
  }

  private static String etag(byte[] body) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(body);
      return "\"" + HexFormat.of().formatHex(digest, 0, 16) + "\"";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!RequestInfo.routed(ctx.channel(), msg, Route.CONSOLE)) {
      ctx.fireChannelRead(msg);
      return;
    }
    HttpRequest request = (HttpRequest) msg;
    String path = RequestInfo.of(ctx.channel()).path();
    String ifNoneMatch = request.headers().get(HttpHeaderNames.IF_NONE_MATCH);
    ReferenceCountUtil.release(msg);
    String name = path.equals("/") ? "index.html" : path.substring(Router.CONSOLE_FILES.length());
    File file = files.get(name);
    if (file == null) {
      throw Refusal.of(
          HttpResponseStatus.NOT_FOUND,
          "not_found",
          "there is nothing at " + path + "; the console is at /");
    }
    boolean unchanged = ifNoneMatch != null && ifNoneMatch.contains(file.etag());
    FullHttpResponse response =
        unchanged
            ? Responses.full(HttpResponseStatus.NOT_MODIFIED, file.contentType(), new byte[0])
            : Responses.full(HttpResponseStatus.OK, file.contentType(), file.body());
    if (unchanged) {
      // A 304 has no body; its Content-Length would claim the empty one.
      response.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
    }
    secure(response.headers());
    response.headers().set(HttpHeaderNames.ETAG, file.etag());
    Responses.write(ctx.channel(), response, Responses.keepAlive(ctx.channel()));
  }

  /** The headers that confine the console: its policy, no sniffing, no framing, no referrer. */
  static void secure(HttpHeaders headers) {
    headers
        .set(HttpHeaderNames.CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .set("X-Content-Type-Options", "nosniff")
        .set(HttpHeaderNames.X_FRAME_OPTIONS, "DENY")
        .set("Referrer-Policy", "no-referrer")
        .set("Cross-Origin-Opener-Policy", "same-origin")
        .set("Cross-Origin-Resource-Policy", "same-origin")
        // Revalidated on every load (cheap: 304), so an upgraded hub never runs a stale page.
        .set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
  }
}
