package dev.flotilla.node.container;

import dev.flotilla.agent.client.AgentException;
import dev.flotilla.agent.protocol.ExitStatus;
import dev.flotilla.agent.protocol.Stream;
import dev.flotilla.containers.ContainerException;
import dev.flotilla.containers.ContainerLog;
import dev.flotilla.containers.ContainerNotFoundException;
import dev.flotilla.containers.ContainerSandbox;
import dev.flotilla.node.api.ApiException;
import dev.flotilla.node.api.FieldError;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Containers in a sandbox created from an image: list, create, start, signal, logs (with follow), exec. Every route
 * answers 404 for an unknown sandbox or container, 501 when this node runs no containers, 409 when the sandbox has
 * no agent connection (still starting, or created without an image). Exec here runs a command to completion and
 * answers its output; interactive exec (stdin, a terminal) is {@link ExecSocket}.
 */
@Path("/api/v1/sandboxes/{ref}/containers")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "containers")
@SecurityRequirement(name = "bearer")
@Blocking
public class ContainerResource {
    /** Longest exec a request may wait for: an HTTP request is not a session. */
    static final int MAX_EXEC_SECONDS = 600;

    @Inject
    SandboxManager sandboxes;
    @Inject
    ContainerRuntime runtime;

    @GET
    @Operation(summary = "List the sandbox's containers")
    public List<ContainerRequests.View> list(@PathParam("ref") String ref) {
        return containers(ref, "list containers").containers().stream().map(ContainerResource::view).toList();
    }

    @POST
    @Operation(summary = "Create a container from the sandbox's image (and start it unless start=false)")
    public Response create(@PathParam("ref") String ref, ContainerRequests.Create body) throws InterruptedException {
        ContainerSandbox s = containers(ref, "create a container");
        if (body == null) {
            throw new ApiException(400, "the request needs a JSON body", List.of(new FieldError("id", "required")));
        }
        List<FieldError> errors = new ArrayList<>();
        if (body.id() == null || !ContainerSandbox.ID.matcher(body.id()).matches()) {
            errors.add(new FieldError("id", "1-63 characters of A-Z, a-z, 0-9, '_', '.', '-'"));
        }
        if (body.env() != null) {
            for (String e : body.env()) {
                if (e == null || e.indexOf('=') <= 0) {
                    errors.add(new FieldError("env", "entry '" + e + "' is not NAME=value"));
                }
            }
        }
        if (!errors.isEmpty()) {
            throw new ApiException(400, "invalid container request", errors);
        }
        List<String> command = body.command() == null ? List.of() : body.command();
        List<String> env = body.env() == null ? List.of() : body.env();
        ContainerSandbox.Container c = call(() -> body.start() == null || body.start()
                ? s.run(body.id(), command, env) : s.create(body.id(), command, env));
        return Response.status(201).entity(view(c)).build();
    }

    @GET
    @Path("/{container}")
    @Operation(summary = "One container")
    public ContainerRequests.View get(@PathParam("ref") String ref, @PathParam("container") String container) {
        return view(call(() -> containers(ref, "read container " + container).container(container)));
    }

    @POST
    @Path("/{container}/start")
    @Operation(summary = "Start a created container")
    public ContainerRequests.View start(@PathParam("ref") String ref, @PathParam("container") String container) throws InterruptedException {
        ContainerSandbox s = containers(ref, "start container " + container);
        call(() -> {
            s.start(container);
            return null;
        });
        return view(s.container(container));
    }

    @POST
    @Path("/{container}/signal")
    @Operation(summary = "Send a signal to the container's process: {\"signal\": 15}")
    public ContainerRequests.View signal(@PathParam("ref") String ref, @PathParam("container") String container,
                                         ContainerRequests.Signal body) throws InterruptedException {
        ContainerSandbox s = containers(ref, "signal container " + container);
        if (body == null || body.signal() == null || body.signal() < 1 || body.signal() > 64) {
            throw new ApiException(400, "invalid signal request", List.of(new FieldError("signal", "a Linux signal number, 1-64")));
        }
        call(() -> {
            s.signal(container, body.signal());
            return null;
        });
        return view(s.container(container));
    }

    @GET
    @Path("/{container}/logs")
    @Produces(MediaType.TEXT_PLAIN)
    @Operation(summary = "The container's output (stdout and stderr as they arrived); ?follow=true streams until it exits")
    public Response logs(@PathParam("ref") String ref, @PathParam("container") String container,
                         @QueryParam("follow") boolean follow, @QueryParam("stream") String stream) {
        ContainerLog log = call(() -> containers(ref, "read the logs of container " + container).container(container)).log();
        Stream only = switch (stream == null ? "" : stream) {
            case "" -> null;
            case "stdout" -> Stream.STDOUT;
            case "stderr" -> Stream.STDERR;
            default -> throw new ApiException(400, "invalid logs request", List.of(new FieldError("stream", "stdout or stderr")));
        };
        if (!follow) {
            return Response.ok(only == null ? log.text() : log.text(only)).build();
        }
        StreamingOutput out = output -> follow(log, only, output);
        return Response.ok(out).build();
    }

    /** Streams the backlog and then live output until the process ends or the client goes away. */
    private static void follow(ContainerLog log, Stream only, OutputStream output) throws IOException {
        LinkedBlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
        byte[] end = new byte[0];
        Runnable stop = log.follow(new ContainerLog.Follower() {
            @Override
            public void onChunk(ContainerLog.Chunk chunk) {
                if (only == null || chunk.stream() == only) {
                    queue.add(chunk.data());
                }
            }

            @Override
            public void onEnd(ExitStatus status, AgentException cause) {
                queue.add(end);
            }
        });
        try {
            while (true) {
                byte[] data = queue.take();
                if (data == end) {
                    return;
                }
                output.write(data);
                output.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            stop.run();
        }
    }

    @POST
    @Path("/{container}/exec")
    @Operation(summary = "Run a command in the running container and answer its exit and output")
    public ContainerRequests.ExecResult exec(@PathParam("ref") String ref, @PathParam("container") String container,
                                             ContainerRequests.Exec body) throws InterruptedException {
        ContainerSandbox s = containers(ref, "exec in container " + container);
        List<FieldError> errors = new ArrayList<>();
        if (body == null || body.id() == null || !ContainerSandbox.ID.matcher(body.id()).matches()) {
            errors.add(new FieldError("id", "1-63 characters of A-Z, a-z, 0-9, '_', '.', '-'"));
        }
        if (body == null || body.command() == null || body.command().isEmpty()) {
            errors.add(new FieldError("command", "required: the program and its arguments"));
        }
        int timeout = body == null || body.timeoutSeconds() == null ? 30 : body.timeoutSeconds();
        if (timeout < 1 || timeout > MAX_EXEC_SECONDS) {
            errors.add(new FieldError("timeoutSeconds", "1-" + MAX_EXEC_SECONDS));
        }
        if (!errors.isEmpty()) {
            throw new ApiException(400, "invalid exec request", errors);
        }
        ContainerLog log = call(() -> s.exec(container, body.id(), body.command()));
        try {
            ExitStatus status = log.exit().get(timeout, TimeUnit.SECONDS);
            return new ContainerRequests.ExecResult(body.id(), status.getExitCode(), status.getSignal(),
                    log.text(Stream.STDOUT), log.text(Stream.STDERR));
        } catch (TimeoutException e) {
            throw new ApiException(504, "exec %s in container %s did not end within %d s (it keeps running)".formatted(body.id(), container, timeout));
        } catch (ExecutionException e) {
            throw new ApiException(502, "exec %s in container %s: %s".formatted(body.id(), container, e.getCause().getMessage()));
        }
    }

    private ContainerSandbox containers(String ref, String what) {
        Sandbox sandbox = sandboxes.get(ref); // 404 first: an unknown sandbox is the caller's mistake whatever the runtime
        if (!runtime.available()) {
            throw new ApiException(501, "cannot " + what + " in sandbox " + ref + ": " + runtime.unavailableReason());
        }
        return runtime.containers(sandbox.spec());
    }

    interface Call<T> {
        T run() throws InterruptedException;
    }

    /** Turns the library's errors into API answers: unknown container 404, anything else the agent refused 409. */
    private static <T> T call(Call<T> call) {
        try {
            return call.run();
        } catch (ContainerNotFoundException e) {
            throw new ApiException(404, e.getMessage());
        } catch (ContainerException e) {
            throw new ApiException(409, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "the request was interrupted (the node agent is shutting down)");
        }
    }

    static ContainerRequests.View view(ContainerSandbox.Container c) {
        var exit = c.exitStatus();
        return new ContainerRequests.View(c.id(), c.args(), c.started(), c.started() && !c.log().exit().isDone(),
                exit.map(ExitStatus::getExitCode).orElse(null), exit.map(ExitStatus::getSignal).orElse(null), c.log().droppedBytes());
    }
}
