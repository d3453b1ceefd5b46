package dev.herald.bench.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A deliberately trivial SSE server on 127.0.0.1 that cannot be the bottleneck: whatever the
 * request, it answers 200 {@code text/event-stream} with chunked transfer encoding (as Netty and
 * Servlet containers stream), then writes one pre-encoded block (already cut into HTTP chunks) a
 * fixed number of times with plain blocking writes, ends the body and closes the connection. No
 * encoding, copying or allocation happens per event; the client counts the events.
 */
final class LocalSseServer implements AutoCloseable {
  /** The size of one HTTP chunk, as a streaming server's flush might produce. */
  static final int CHUNK_BYTES = 16 * 1024;

  private static final byte[] RESPONSE_HEAD =
      ("HTTP/1.1 200 OK\r\n"
              + "Content-Type: text/event-stream\r\n"
              + "Cache-Control: no-cache\r\n"
              + "Transfer-Encoding: chunked\r\n"
              + "Connection: close\r\n"
              + "\r\n")
          .getBytes(StandardCharsets.US_ASCII);
  private static final byte[] LAST_CHUNK = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_REQUEST_HEAD_BYTES = 64 * 1024;

  private final ServerSocket serverSocket;
  private final byte[] chunkedBlock;
  private final int repeats;
  private final ExecutorService threads;

  private LocalSseServer(ServerSocket serverSocket, byte[] chunkedBlock, int repeats) {
    this.serverSocket = serverSocket;
    this.chunkedBlock = chunkedBlock;
    this.repeats = repeats;
    this.threads =
        Executors.newCachedThreadPool(
            task -> {
              Thread thread = new Thread(task, "local-sse-server");
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Starts a server whose every response body is {@code block} (whole SSE events) repeated {@code
   * repeats} times.
   */
  static LocalSseServer start(byte[] block, int repeats) throws IOException {
    ServerSocket serverSocket = new ServerSocket();
    serverSocket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    LocalSseServer server = new LocalSseServer(serverSocket, chunked(block), repeats);
    server.threads.execute(server::acceptLoop);
    return server;
  }

  /** Where clients connect: {@code http://127.0.0.1:port/events}. */
  URI uri() {
    return URI.create("http://127.0.0.1:" + serverSocket.getLocalPort() + "/events");
  }

  @Override
  public void close() throws IOException {
    serverSocket.close();
    threads.shutdownNow();
    try {
      threads.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void acceptLoop() {
    while (!serverSocket.isClosed()) {
      try {
        Socket socket = serverSocket.accept();
        threads.execute(() -> serve(socket));
      } catch (IOException e) {
        // Closed: the loop ends.
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSendBufferSize(1 << 20);
      // Bounds the wait for the client's close in drain(); a read never waits longer.
      socket.setSoTimeout(30_000);
      readRequestHead(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      out.write(RESPONSE_HEAD);
      for (int i = 0; i < repeats; i++) {
        out.write(chunkedBlock);
      }
      out.write(LAST_CHUNK);
      out.flush();
      // Let the client read to the end before the socket closes under it.
      socket.shutdownOutput();
      drain(socket.getInputStream());
    } catch (SocketException e) {
      // The client had what it wanted and closed the connection.
    } catch (IOException e) {
      // Same: any write after the client closed fails one way or another.
    }
  }

  /** Reads up to the blank line that ends the request head; the request itself is ignored. */
  private static void readRequestHead(InputStream in) throws IOException {
    int matched = 0;
    for (int read = 0; read < MAX_REQUEST_HEAD_BYTES; read++) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("Connection closed inside the request head");
      }
      // Looking for CR LF CR LF.
      if (b == (matched % 2 == 0 ? '\r' : '\n')) {
        matched++;
        if (matched == 4) {
          return;
        }
      } else {
        matched = b == '\r' ? 1 : 0;
      }
    }
    throw new IOException("Request head over " + MAX_REQUEST_HEAD_BYTES + " bytes");
  }

  /** Waits, bounded, for the client to close its side. */
  private static void drain(InputStream in) throws IOException {
    byte[] buffer = new byte[1024];
    for (int i = 0; i < 1024 && in.read(buffer) >= 0; i++) {
      // Discard whatever the client still sends (nothing, normally).
    }
  }

  /** Cuts {@code block} into HTTP/1.1 chunks of {@link #CHUNK_BYTES}. */
  static byte[] chunked(byte[] block) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(block.length + 1024);
    for (int at = 0; at < block.length; at += CHUNK_BYTES) {
      int length = Math.min(CHUNK_BYTES, block.length - at);
      out.writeBytes((Integer.toHexString(length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(block, at, length);
      out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    return out.toByteArray();
  }
}
