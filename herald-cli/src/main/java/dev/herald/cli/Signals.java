package dev.herald.cli;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;

/**
 * Turns SIGTERM and SIGINT into a graceful stop. The JVM's default would run shutdown hooks and
 * exit 143; handling the signals lets {@code herald serve} close the hub and exit 0, as
 * docs/design.md ("Shutdown") asks.
 *
 * <p>The JDK's only signal API is {@code sun.misc.Signal} (module {@code jdk.unsupported}, present
 * in every OpenJDK build). It is reached reflectively so the build stays free of "internal
 * proprietary API" warnings; where it is missing, the shutdown hook still closes the hub and only
 * the exit status differs.
 */
final class Signals {
  private Signals() {}

  /**
   * Runs {@code action} (once per signal) on SIGTERM or SIGINT; false if signals are unavailable.
   */
  static boolean onTermination(Runnable action) {
    try {
      Class<?> signalType = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      InvocationHandler onSignal =
          (proxy, method, args) -> {
            switch (method.getName()) {
              case "handle":
                action.run();
                return null;
              case "equals":
                return proxy == args[0];
              case "hashCode":
                return System.identityHashCode(proxy);
              default:
                return "herald shutdown signal handler";
            }
          };
      Object handler =
          Proxy.newProxyInstance(
              Signals.class.getClassLoader(), new Class<?>[] {handlerType}, onSignal);
      var handle = signalType.getMethod("handle", signalType, handlerType);
      for (String name : new String[] {"TERM", "INT"}) {
        Object signal = signalType.getConstructor(String.class).newInstance(name);
        handle.invoke(null, signal, handler);
      }
      return true;
    } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
      return false;
    }
  }
}
