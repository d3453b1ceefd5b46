package dev.herald.client;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpRequest;
import java.util.Locale;
import java.util.Optional;

/**
 * Fetch's redirect rules, as an EventSource in a browser follows them: which statuses redirect,
 * where to, and how the next request of the attempt changes. A source follows redirects itself, not
 * through {@link java.net.http.HttpClient}, because the client's own rules differ (it keeps
 * credentials across origins) and servers expect what browsers do.
 */
final class Redirects {
  /** How many redirects one connection attempt follows before it fails. */
  static final int MAX = 20;

  private Redirects() {}

  static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /**
   * Returns where a {@code Location} sends a request to {@code base}, or empty if that is no URI a
   * source can connect to (not http or https, no host, or refused by java.net.http).
   */
  static Optional<URI> target(URI base, String location) {
    try {
      URI target = base.resolve(new URI(location.trim()));
      String scheme = target.getScheme();
      if (scheme == null
          || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))
          || target.getHost() == null) {
        return Optional.empty();
      }
      // The fragment is never sent; a request URI with one is refused by some servers.
      if (target.getRawFragment() != null) {
        target = new URI(target.getScheme(), target.getRawSchemeSpecificPart(), null);
      }
      // Whatever java.net.http would refuse on every attempt is unusable now.
      HttpRequest.newBuilder(target);
      return Optional.of(target);
    } catch (URISyntaxException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** Turns the next request of {@code c} into the one a {@code status} redirect asks for. */
  static void follow(Connection c, int status, URI target) {
    // Fetch: 301/302 turn POST into GET, 303 turns everything but GET and HEAD into GET; the body
    // and its headers go. 307/308 keep method and body.
    boolean toGet =
        ((status == 301 || status == 302) && c.method.equals("POST"))
            || (status == 303 && !c.method.equals("GET") && !c.method.equals("HEAD"));
    if (toGet) {
      c.method = "GET";
      c.body = null;
      c.bodyHeadersDropped = true;
    }
    // Fetch drops Authorization on a cross-origin redirect; cookies and proxy credentials too.
    if (!sameOrigin(c.uri, target)) {
      c.credentialsDropped = true;
    }
    c.uri = target;
  }

  /** Whether the redirects of {@code c} so far dropped the caller's header {@code name}. */
  static boolean dropped(Connection c, String name) {
    return (c.bodyHeadersDropped && isBodyHeader(name))
        || (c.credentialsDropped && isCredentialHeader(name));
  }

  private static boolean sameOrigin(URI a, URI b) {
    return a.getScheme().equalsIgnoreCase(b.getScheme())
        && a.getHost().equalsIgnoreCase(b.getHost())
        && port(a) == port(b);
  }

  private static int port(URI uri) {
    if (uri.getPort() >= 0) {
      return uri.getPort();
    }
    return uri.getScheme().equalsIgnoreCase("https") ? 443 : 80;
  }

  private static boolean isBodyHeader(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.equals("content-type")
        || lower.equals("content-encoding")
        || lower.equals("content-language")
        || lower.equals("content-location");
  }

  private static boolean isCredentialHeader(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.equals("authorization")
        || lower.equals("cookie")
        || lower.equals("proxy-authorization");
  }
}
