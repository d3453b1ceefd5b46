package dev.herald.server.servlet;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Servlet;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Jetty;

/** Jetty 12 (ee10), registered the way {@link EventStreamServlet}'s Javadoc shows. */
final class JettyContainer implements ServletContainer {
  private Server server;

  static String version() {
    return "Jetty " + Jetty.VERSION;
  }

  @Override
  public int start(Servlet servlet, Chain chain) throws Exception {
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    ServletHolder holder = new ServletHolder(servlet);
    holder.setAsyncSupported(chain != Chain.SERVLET_NOT_ASYNC);
    context.addServlet(holder, "/events");
    if (chain == Chain.FILTER_NOT_ASYNC) {
      FilterHolder filter = new FilterHolder(PASS_THROUGH);
      filter.setAsyncSupported(false);
      context.addFilter(filter, "/*", EnumSet.of(DispatcherType.REQUEST));
    }
    server.setHandler(context);
    server.start();
    return connector.getLocalPort();
  }

  @Override
  public void close() throws Exception {
    if (server != null) {
      server.stop();
    }
  }
}
