package dev.herald.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code herald} command: {@code herald serve} runs the hub, {@code herald publish} sends it an
 * event, {@code herald token} mints a dev token. Each subcommand is its own class, listed once in
 * {@code subcommands} below.
 *
 * <pre>{@code
 * java -jar herald.jar serve --store memory --port 8080
 * java -jar herald.jar publish --topic news --data '{"headline": "hello"}'
 * }</pre>
 */
@Command(
    name = "herald",
    mixinStandardHelpOptions = true,
    versionProvider = Herald.Version.class,
    description = "Server-sent events for the JVM: the hub and its tools.",
    subcommands = {
      ServeCommand.class,
      PublishCommand.class,
      ListenCommand.class,
      ContractServiceCommand.class,
      TokenCommand.class,
      CommandLine.HelpCommand.class,
    })
public final class Herald implements Runnable {
  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  /** Runs the command line and exits with its status. */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line with the process environment and returns the exit status. */
  static int run(String... args) {
    return commandLine(System.getenv()).execute(args);
  }

  /**
   * The command line, with flag defaults read from {@code env} ({@code HERALD_<FLAG>}) where a
   * subcommand asks for them.
   */
  static CommandLine commandLine(java.util.Map<String, String> env) {
    CommandLine line = new CommandLine(new Herald());
    // "--data @file" is publish's own syntax: picocli must not expand @-files itself.
    line.setExpandAtFiles(false);
    line.setParameterExceptionHandler(Herald::usageError);
    for (CommandLine sub : line.getSubcommands().values()) {
      // Each subcommand's --version answers as the top command's does.
      sub.getCommandSpec().versionProvider(new Version());
      // --help shows every flag's default: the built-in one, or the env variable's when set.
      sub.getCommandSpec().usageMessage().showDefaultValues(true);
    }
    line.getSubcommands()
        .get("serve")
        .setDefaultValueProvider(new EnvDefaults(env, ServeDefaults.BY_FLAG));
    // The hub's address, set once for every client command: HERALD_URL.
    EnvDefaults url = EnvDefaults.only(env, "--url");
    line.getSubcommands().get("publish").setDefaultValueProvider(url);
    line.getSubcommands().get("listen").setDefaultValueProvider(url);
    return line;
  }

  /**
   * A usage error: the message (and picocli's "did you mean" when it has one) and where to find
   * help, exit status 2. Not the whole usage, which would scroll the error out of sight.
   */
  private static int usageError(CommandLine.ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    String name = command.getCommandSpec().qualifiedName();
    java.io.PrintWriter err = command.getErr();
    err.println(name + ": " + e.getMessage());
    CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    err.println("Try '" + name + " --help' for more information.");
    err.flush();
    return command.getCommandSpec().exitCodeOnInvalidInput();
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getErr());
  }

  /**
   * The project version Maven wrote into {@code version.txt} at build time; the jar manifest's as a
   * fallback.
   */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"herald " + version()};
    }

    static String version() {
      try (java.io.InputStream in = Herald.class.getResourceAsStream("version.txt")) {
        if (in != null) {
          String version = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
          if (!version.isBlank() && !version.contains("${")) {
            return version.strip();
          }
        }
      } catch (java.io.IOException e) {
        // Unreadable resource: fall back to the manifest.
      }
      String manifest = Herald.class.getPackage().getImplementationVersion();
      return manifest == null ? "(development build)" : manifest;
    }
  }
}
