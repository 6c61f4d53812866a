package dev.flotilla.node;

import dev.flotilla.node.bench.DensityBench;
import dev.flotilla.node.bench.PodStartBench;
import dev.flotilla.node.cli.SandboxCli;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * Entry point. {@code java -jar quarkus-run.jar} serves the node agent; {@code ... bench density --count N} runs
 * the density benchmark ({@code bench pod-start} the CRI pod start benchmark, {@link PodStartBench}), which starts a node agent as a child process and drives it through its API (this
 * process stays a plain HTTP client, so its own memory and threads never mix with the agent's); {@code ... sandbox
 * ls|run|get|stop|rm|console} and {@code ... node} are the command line for a running agent's API.
 */
@QuarkusMain
public class NodeAgentMain implements QuarkusApplication {

    public static void main(String... args) throws Exception {
        if (args.length > 1 && args[0].equals("bench") && args[1].equals("pod-start")) {
            System.exit(PodStartBench.main(args));
        }
        if (args.length > 0 && args[0].equals("bench")) {
            System.exit(DensityBench.main(args));
        }
        if (args.length > 0 && (args[0].equals("sandbox") || args[0].equals("node"))) {
            System.exit(SandboxCli.main(args));
        }
        Quarkus.run(NodeAgentMain.class, args);
    }

    @Override
    public int run(String... args) {
        if (args.length > 0) {
            System.err.println("node-agent: unknown arguments " + String.join(" ", args)
                    + " (no arguments serves the agent; 'bench density --count N' runs the density benchmark)");
            return 2;
        }
        Quarkus.waitForExit();
        return 0;
    }
}
