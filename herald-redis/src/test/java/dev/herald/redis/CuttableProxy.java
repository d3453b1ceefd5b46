package dev.herald.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A TCP proxy to Redis that a test can cut (every connection through it is dropped and new ones are
 * closed at once) and restore: one node losing Redis while the others keep it. It can also hold a
 * connection's commands from the first one that names given words ({@link #hold}): Redis slow to
 * answer one command, and whatever follows it on the same connection, while the rest flows.
 */
final class CuttableProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private volatile boolean cut;
  private final List<Hold> holds = new CopyOnWriteArrayList<>();
  private final List<byte[][]> rewrites = new CopyOnWriteArrayList<>();

  /** Commands held from the first chunk a client sends that contains every word. */
  static final class Hold {
    private final List<String> words;
    private final CountDownLatch holding = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    private Hold(List<String> words) {
      this.words = words;
    }

    /** Waits until a connection's commands are held by this. */
    boolean awaitHolding(long timeout, TimeUnit unit) throws InterruptedException {
      return holding.await(timeout, unit);
    }

    /** Lets the held commands, and what followed them, through. */
    void release() {
      released.countDown();
    }

    private boolean matches(byte[] buffer, int length) {
      String text = new String(buffer, 0, length, StandardCharsets.ISO_8859_1);
      return words.stream().allMatch(text::contains);
    }
  }

  CuttableProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "proxy-accept-" + server.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String uri() {
    return "redis://127.0.0.1:" + server.getLocalPort();
  }

  /**
   * From now on, holds the commands of the first client connection that sends a chunk containing
   * every one of {@code words} (with whatever it sends after them) until the hold is released.
   */
  Hold hold(String... words) {
    Hold hold = new Hold(List.of(words));
    holds.add(hold);
    return hold;
  }

  /**
   * From now on, replaces {@code from} by {@code to} (the same length, so that Redis' framing still
   * holds) in what Redis answers, once per chunk that contains it: a Redis whose reply the client
   * cannot read.
   */
  void rewriteReplies(String from, String to) {
    if (from.length() != to.length()) {
      throw new IllegalArgumentException("a rewrite keeps the length");
    }
    rewrites.add(
        new byte[][] {
          from.getBytes(StandardCharsets.ISO_8859_1), to.getBytes(StandardCharsets.ISO_8859_1)
        });
  }

  /** Drops every connection and refuses new ones until {@link #restore}. */
  void cut() {
    cut = true;
    for (Socket socket : sockets) {
      closeQuietly(socket);
    }
  }

  void restore() {
    cut = false;
  }

  @Override
  public void close() {
    cut();
    closeQuietly(server);
  }

  private void accept() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      if (cut) {
        closeQuietly(client);
        continue;
      }
      try {
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        sockets.add(client);
        sockets.add(upstream);
        pump(client, upstream, true);
        pump(upstream, client, false);
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private void pump(Socket from, Socket to, boolean fromClient) {
    Thread thread =
        new Thread(
            () -> {
              byte[] buffer = new byte[16 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                  if (fromClient) {
                    awaitRelease(buffer, n);
                  } else {
                    rewrite(buffer, n);
                  }
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // one side went away: close both below
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                sockets.remove(from);
                sockets.remove(to);
              }
            },
            "proxy-pump");
    thread.setDaemon(true);
    thread.start();
  }

  /** Holds this chunk while a hold that matches it, once, is not released (bounded: 60 s). */
  private void awaitRelease(byte[] buffer, int length) {
    for (Hold hold : holds) {
      if (hold.matches(buffer, length) && holds.remove(hold)) {
        hold.holding.countDown();
        try {
          hold.released.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  private void rewrite(byte[] buffer, int length) {
    for (byte[][] rewrite : rewrites) {
      byte[] from = rewrite[0];
      for (int at = 0; at + from.length <= length; at++) {
        if (java.util.Arrays.equals(buffer, at, at + from.length, from, 0, from.length)) {
          System.arraycopy(rewrite[1], 0, buffer, at, from.length);
          break;
        }
      }
    }
  }

  private static void closeQuietly(java.io.Closeable closeable) {
    try {
      closeable.close();
    } catch (IOException e) {
      // nothing to do
    }
  }
}
