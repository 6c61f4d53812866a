package dev.flotilla.cri;

import dev.flotilla.cri.backend.CriBackends;
import dev.flotilla.cri.backend.RuntimeReadiness.Condition;
import dev.flotilla.cri.logs.CriLogWriter;
import dev.flotilla.cri.logs.LogStream;
import dev.flotilla.cri.v1.*;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CRI shim as the kubelet sees it: a grpc-java client on the Unix socket (Netty epoll domain socket channel),
 * driving the calls that work without the node-agent's runtime and the error codes of bad requests.
 */
class CriSocketIT {

    private static final String UNKNOWN_ID = "0".repeat(64);

    @TempDir
    Path dir;

    private CriServer server;
    private EventLoopGroup clientLoop;
    private ManagedChannel channel;

    private CriConfig config() {
        return CriConfig.defaults().withSocket(dir.resolve("run/cri.sock"))
                .withCni(dir.resolve("net.d"), List.of(dir.resolve("cni-bin")));
    }

    private void start(CriBackends backends) throws IOException {
        start(config(), backends);
    }

    private void start(CriConfig config, CriBackends backends) throws IOException {
        server = CriServer.start(config, backends);
        clientLoop = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(config.socket().toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(clientLoop)
                .usePlaintext()
                .overrideAuthority("localhost")
                .build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private RuntimeServiceGrpc.RuntimeServiceBlockingStub runtime() {
        return RuntimeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    private ImageServiceGrpc.ImageServiceBlockingStub images() {
        return ImageServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    private static StatusRuntimeException assertStatus(Status.Code code, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().getDescription());
        return e;
    }

    private static PodSandboxConfig sandboxConfig(String name, int attempt) {
        return PodSandboxConfig.newBuilder()
                .setMetadata(PodSandboxMetadata.newBuilder().setName(name).setNamespace("default")
                        .setUid("6f1c1c53-4a7e-4c1e-9a77-0d9d1f3f0a11").setAttempt(attempt))
                .setLogDirectory("/var/log/pods/default_" + name + "_6f1c1c53")
                .putLabels("app", name)
                .build();
    }

    private static RuntimeCondition condition(StatusResponse status, String type) {
        return status.getStatus().getConditionsList().stream().filter(c -> c.getType().equals(type)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type + " condition in " + status));
    }

    private static CriBackends withRecording(RecordingBackend backend) {
        return CriBackends.none().withSandboxes(backend).withContainers(backend);
    }

    // ------------------------------------------------------------------ version, status, config

    @Test
    void version_overUnixSocket_reportsFlotillaAndV1() throws IOException {
        start(CriBackends.none());
        VersionResponse version = runtime().version(VersionRequest.newBuilder().setVersion("v1").build());
        assertEquals("flotilla", version.getRuntimeName());
        assertEquals("v1", version.getRuntimeApiVersion());
        assertEquals("0.1.0", version.getRuntimeVersion());
    }

    @Test
    void start_socketFile_onlyOwnerAndGroupMayConnect() throws IOException {
        start(CriBackends.none());
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.socket())));
    }

    @Test
    void status_nothingAttachedNoCni_bothConditionsFalseWithReasons() throws IOException {
        start(CriBackends.none());
        StatusResponse status = runtime().status(StatusRequest.getDefaultInstance());
        RuntimeCondition runtimeReady = condition(status, "RuntimeReady");
        RuntimeCondition networkReady = condition(status, "NetworkReady");
        assertFalse(runtimeReady.getStatus());
        assertEquals("RuntimeNotAttached", runtimeReady.getReason());
        assertFalse(networkReady.getStatus());
        assertEquals("NetworkPluginNotReady", networkReady.getReason());
        assertTrue(networkReady.getMessage().contains(dir.resolve("net.d").toString()), networkReady.getMessage());
    }

    @Test
    void status_readinessAttachedAndCniInstalled_bothConditionsTrue() throws IOException {
        Files.createDirectories(dir.resolve("net.d"));
        Files.writeString(dir.resolve("net.d/10-flotilla.conflist"),
                "{\"cniVersion\":\"1.0.0\",\"name\":\"f\",\"plugins\":[{\"type\":\"bridge\"}]}");
        Path bridge = Files.createDirectories(dir.resolve("cni-bin")).resolve("bridge");
        Files.writeString(bridge, "#!/bin/sh\n");
        Files.setPosixFilePermissions(bridge, PosixFilePermissions.fromString("rwxr-xr-x"));
        start(CriBackends.none().withReadiness(Condition::isReady));
        StatusResponse status = runtime().status(StatusRequest.getDefaultInstance());
        assertTrue(condition(status, "RuntimeReady").getStatus());
        assertTrue(condition(status, "NetworkReady").getStatus());
    }

    @Test
    void status_runtimeNotReady_reasonAndMessagePassedThrough() throws IOException {
        start(CriBackends.none().withReadiness(() -> Condition.notReady("KvmUnavailable",
                "/dev/kvm is missing on this node")));
        RuntimeCondition c = condition(runtime().status(StatusRequest.getDefaultInstance()), "RuntimeReady");
        assertEquals("KvmUnavailable", c.getReason());
        assertEquals("/dev/kvm is missing on this node", c.getMessage());
    }

    @Test
    void status_runtimeHandlers_defaultAndFlotilla() throws IOException {
        start(CriBackends.none());
        List<String> names = runtime().status(StatusRequest.getDefaultInstance()).getRuntimeHandlersList().stream()
                .map(RuntimeHandler::getName).toList();
        assertEquals(List.of("", "flotilla"), names);
    }

    @Test
    void updateRuntimeConfig_podCidr_shownInVerboseStatusAndPassedToListener() throws IOException {
        start(CriBackends.none());
        List<List<String>> seen = new ArrayList<>();
        server.podNetwork().onChange(seen::add);
        runtime().updateRuntimeConfig(UpdateRuntimeConfigRequest.newBuilder().setRuntimeConfig(RuntimeConfig
                .newBuilder().setNetworkConfig(NetworkConfig.newBuilder()
                        .setPodCidr("10.244.1.0/24,fd00:10:244:1::/64"))).build());
        assertEquals(List.of(List.of("10.244.1.0/24", "fd00:10:244:1::/64")), seen);
        String info = runtime().status(StatusRequest.newBuilder().setVerbose(true).build()).getInfoMap().get("config");
        assertTrue(info.contains("\"podCidrs\":\"10.244.1.0/24,fd00:10:244:1::/64\""), info);
    }

    @Test
    void updateRuntimeConfig_malformedCidr_invalidArgument() throws IOException {
        start(CriBackends.none());
        var e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().updateRuntimeConfig(
                UpdateRuntimeConfigRequest.newBuilder().setRuntimeConfig(RuntimeConfig.newBuilder()
                        .setNetworkConfig(NetworkConfig.newBuilder().setPodCidr("10.244.1.0"))).build()));
        assertTrue(e.getStatus().getDescription().contains("no prefix length"), e.getStatus().getDescription());
        assertEquals(List.of(), server.podNetwork().podCidrs());
    }

    @Test
    void runtimeConfig_reportsConfiguredCgroupDriver() throws IOException {
        start(CriBackends.none());
        assertEquals(CgroupDriver.SYSTEMD, runtime().runtimeConfig(RuntimeConfigRequest.getDefaultInstance())
                .getLinux().getCgroupDriver());
    }

    // ------------------------------------------------------------------ unattached backends

    @Test
    void runPodSandbox_noSandboxRuntimeAttached_unimplementedNamingPart() throws IOException {
        start(CriBackends.none());
        var e = assertStatus(Status.Code.UNIMPLEMENTED, () -> runtime().runPodSandbox(
                RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build()));
        assertTrue(e.getStatus().getDescription().contains("sandbox runtime"), e.getStatus().getDescription());
    }

    @Test
    void pullImage_noImageStoreAttached_unimplemented() throws IOException {
        start(CriBackends.none());
        assertStatus(Status.Code.UNIMPLEMENTED, () -> images().pullImage(PullImageRequest.newBuilder()
                .setImage(ImageSpec.newBuilder().setImage("docker.io/library/busybox:1.36")).build()));
    }

    @Test
    void getContainerEvents_notOffered_unimplementedWithAdvice() throws IOException {
        start(CriBackends.none());
        var e = assertStatus(Status.Code.UNIMPLEMENTED,
                () -> runtime().getContainerEvents(GetEventsRequest.getDefaultInstance()).hasNext());
        assertTrue(e.getStatus().getDescription().contains("EventedPLEG"), e.getStatus().getDescription());
    }

    // ------------------------------------------------------------------ validation

    @Test
    void runPodSandbox_missingMetadata_invalidArgument() throws IOException {
        start(withRecording(new RecordingBackend()));
        var e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().runPodSandbox(
                RunPodSandboxRequest.newBuilder().setConfig(PodSandboxConfig.newBuilder().setHostname("h")).build()));
        assertTrue(e.getStatus().getDescription().contains("config.metadata"), e.getStatus().getDescription());
    }

    @Test
    void runPodSandbox_unknownRuntimeHandler_invalidArgumentListingHandlers() throws IOException {
        start(withRecording(new RecordingBackend()));
        var e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().runPodSandbox(RunPodSandboxRequest
                .newBuilder().setConfig(sandboxConfig("web", 0)).setRuntimeHandler("kata").build()));
        assertTrue(e.getStatus().getDescription().contains("[flotilla]"), e.getStatus().getDescription());
    }

    @Test
    void runPodSandbox_sameMetadataTwice_alreadyExists() throws IOException {
        RecordingBackend backend = new RecordingBackend();
        start(withRecording(backend));
        String first = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("web", 0)).build()).getPodSandboxId();
        var e = assertStatus(Status.Code.ALREADY_EXISTS, () -> runtime().runPodSandbox(
                RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build()));
        assertTrue(e.getStatus().getDescription().contains(first), e.getStatus().getDescription());
        assertEquals(1, backend.sandboxes.size());
    }

    @Test
    void runPodSandbox_nextAttempt_allowed() throws IOException {
        start(withRecording(new RecordingBackend()));
        runtime().runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build());
        String second = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("web", 1)).build()).getPodSandboxId();
        assertTrue(second.matches("[0-9a-f]{64}"), second);
    }

    @Test
    void runPodSandbox_backendFails_codeKeptAndNameFreedForRetry() throws IOException {
        RecordingBackend backend = new RecordingBackend();
        start(withRecording(backend));
        backend.failNextRun = new CriException(CriException.Reason.RESOURCE_EXHAUSTED,
                "not enough free memory on this node for a 512 MiB microVM");
        var e = assertStatus(Status.Code.RESOURCE_EXHAUSTED, () -> runtime().runPodSandbox(
                RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build()));
        assertEquals("not enough free memory on this node for a 512 MiB microVM", e.getStatus().getDescription());
        runtime().runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build());
    }

    @Test
    void runPodSandbox_backendBug_internalWithoutCrashingServer() throws IOException {
        RecordingBackend backend = new RecordingBackend();
        start(withRecording(backend));
        backend.failNextRun = new NullPointerException("boom");
        var e = assertStatus(Status.Code.INTERNAL, () -> runtime().runPodSandbox(
                RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build()));
        assertTrue(e.getStatus().getDescription().contains("RunPodSandbox"), e.getStatus().getDescription());
        assertEquals("flotilla", runtime().version(VersionRequest.getDefaultInstance()).getRuntimeName());
    }

    @Test
    void stopPodSandbox_unknownId_notFound() throws IOException {
        start(withRecording(new RecordingBackend()));
        assertStatus(Status.Code.NOT_FOUND, () -> runtime().stopPodSandbox(
                StopPodSandboxRequest.newBuilder().setPodSandboxId(UNKNOWN_ID).build()));
    }

    @Test
    void removePodSandbox_unknownId_succeedsBecauseIdempotent() throws IOException {
        start(withRecording(new RecordingBackend()));
        runtime().removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(UNKNOWN_ID).build());
    }

    @Test
    void podSandboxStatus_malformedId_invalidArgument() throws IOException {
        start(withRecording(new RecordingBackend()));
        var e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().podSandboxStatus(
                PodSandboxStatusRequest.newBuilder().setPodSandboxId("../../etc").build()));
        assertTrue(e.getStatus().getDescription().contains("pod_sandbox_id"), e.getStatus().getDescription());
    }

    @Test
    void listPodSandbox_labelAndStateFilters_applied() throws IOException {
        start(withRecording(new RecordingBackend()));
        String web = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("web", 0)).build()).getPodSandboxId();
        String db = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("db", 0)).build()).getPodSandboxId();
        runtime().stopPodSandbox(StopPodSandboxRequest.newBuilder().setPodSandboxId(db).build());

        List<String> byLabel = runtime().listPodSandbox(ListPodSandboxRequest.newBuilder().setFilter(
                PodSandboxFilter.newBuilder().putLabelSelector("app", "web")).build())
                .getItemsList().stream().map(PodSandbox::getId).toList();
        List<String> ready = runtime().listPodSandbox(ListPodSandboxRequest.newBuilder().setFilter(
                PodSandboxFilter.newBuilder().setState(PodSandboxStateValue.newBuilder()
                        .setState(PodSandboxState.SANDBOX_READY))).build())
                .getItemsList().stream().map(PodSandbox::getId).toList();
        assertEquals(List.of(web), byLabel);
        assertEquals(List.of(web), ready);
    }

    @Test
    void streamPodSandboxes_twoSandboxes_oneMessageWithBoth() throws IOException {
        start(withRecording(new RecordingBackend()));
        runtime().runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("web", 0)).build());
        runtime().runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(sandboxConfig("db", 0)).build());
        List<StreamPodSandboxesResponse> messages = new ArrayList<>();
        runtime().streamPodSandboxes(StreamPodSandboxesRequest.getDefaultInstance()).forEachRemaining(messages::add);
        assertEquals(1, messages.size());
        assertEquals(2, messages.getFirst().getPodSandboxesCount());
    }

    @Test
    void streamPodSandboxes_noneMatch_noMessage() throws IOException {
        start(withRecording(new RecordingBackend()));
        List<StreamPodSandboxesResponse> messages = new ArrayList<>();
        runtime().streamPodSandboxes(StreamPodSandboxesRequest.newBuilder().setFilter(PodSandboxFilter.newBuilder()
                .setId(UNKNOWN_ID)).build()).forEachRemaining(messages::add);
        assertEquals(List.of(), messages);
    }

    @Test
    void createContainer_sameNameAndAttemptInSandbox_alreadyExists() throws IOException {
        start(withRecording(new RecordingBackend()));
        String sandbox = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("web", 0)).build()).getPodSandboxId();
        CreateContainerRequest create = CreateContainerRequest.newBuilder().setPodSandboxId(sandbox)
                .setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("nginx"))
                        .setImage(ImageSpec.newBuilder().setImage("nginx:1.27"))
                        .setLogPath("nginx/0.log"))
                .setSandboxConfig(sandboxConfig("web", 0)).build();
        runtime().createContainer(create);
        assertStatus(Status.Code.ALREADY_EXISTS, () -> runtime().createContainer(create));
    }

    @Test
    void createContainer_logPathOutsideLogDirectory_invalidArgumentAndNothingCreated() throws IOException {
        RecordingBackend backend = new RecordingBackend();
        start(withRecording(backend));
        String sandbox = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("web", 0)).build()).getPodSandboxId();
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().createContainer(CreateContainerRequest
                .newBuilder().setPodSandboxId(sandbox)
                .setConfig(ContainerConfig.newBuilder()
                        .setMetadata(ContainerMetadata.newBuilder().setName("evil"))
                        .setImage(ImageSpec.newBuilder().setImage("busybox"))
                        .setLogPath("../../../../etc/cron.d/x"))
                .setSandboxConfig(sandboxConfig("web", 0)).build()));
        assertTrue(backend.containers.isEmpty());
    }

    @Test
    void createContainer_unknownSandbox_notFoundFromBackend() throws IOException {
        start(withRecording(new RecordingBackend()));
        assertStatus(Status.Code.NOT_FOUND, () -> runtime().createContainer(CreateContainerRequest.newBuilder()
                .setPodSandboxId(UNKNOWN_ID)
                .setConfig(ContainerConfig.newBuilder().setMetadata(ContainerMetadata.newBuilder().setName("c"))
                        .setImage(ImageSpec.newBuilder().setImage("busybox")))
                .setSandboxConfig(sandboxConfig("web", 0)).build()));
    }

    @Test
    void stopContainer_negativeTimeout_invalidArgument() throws IOException {
        start(withRecording(new RecordingBackend()));
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().stopContainer(StopContainerRequest.newBuilder()
                .setContainerId(UNKNOWN_ID).setTimeout(-1).build()));
    }

    @Test
    void execSync_emptyCommand_invalidArgument() throws IOException {
        start(withRecording(new RecordingBackend()));
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().execSync(ExecSyncRequest.newBuilder()
                .setContainerId(UNKNOWN_ID).build()));
    }

    @Test
    void exec_ttyWithStderr_invalidArgument() throws IOException {
        start(CriBackends.none());
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().exec(ExecRequest.newBuilder()
                .setContainerId(UNKNOWN_ID).addCmd("sh").setTty(true).setStdout(true).setStderr(true).build()));
    }

    @Test
    void portForward_portOutOfRange_invalidArgument() throws IOException {
        start(CriBackends.none());
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> runtime().portForward(PortForwardRequest.newBuilder()
                .setPodSandboxId(UNKNOWN_ID).addPort(70000).build()));
    }

    @Test
    void pullImage_imageWithWhitespace_invalidArgument() throws IOException {
        start(CriBackends.none());
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> images().pullImage(PullImageRequest.newBuilder()
                .setImage(ImageSpec.newBuilder().setImage("busybox latest")).build()));
    }

    @Test
    void pullImage_authNotBase64_invalidArgument() throws IOException {
        start(CriBackends.none());
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> images().pullImage(PullImageRequest.newBuilder()
                .setImage(ImageSpec.newBuilder().setImage("registry.local:5000/app:1"))
                .setAuth(AuthConfig.newBuilder().setAuth("%%%not base64%%%").setServerAddress("registry.local:5000"))
                .build()));
    }

    // ------------------------------------------------------------------ container logs

    @Test
    void reopenContainerLog_openLog_newFileAfterKubeletRotation() throws IOException {
        start(CriBackends.none());
        String id = "a".repeat(64);
        Path log = dir.resolve("0.log");
        CriLogWriter writer = CriLogWriter.open(log);
        server.logs().register(id, writer);
        writer.write(LogStream.STDOUT, "before rotation\n".getBytes(StandardCharsets.UTF_8));
        Path rotated = dir.resolve("0.log.20261122-030405");
        Files.move(log, rotated);

        runtime().reopenContainerLog(ReopenContainerLogRequest.newBuilder().setContainerId(id).build());
        writer.write(LogStream.STDOUT, "after rotation\n".getBytes(StandardCharsets.UTF_8));

        assertTrue(Files.readString(rotated).endsWith(" stdout F before rotation\n"));
        assertTrue(Files.readString(log).endsWith(" stdout F after rotation\n"));
        writer.close();
    }

    @Test
    void reopenContainerLog_containerNotRunning_failedPreconditionAndNoFileCreated() throws IOException {
        RecordingBackend backend = new RecordingBackend();
        start(withRecording(backend));
        String sandbox = runtime().runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(sandboxConfig("web", 0)).build()).getPodSandboxId();
        String container = runtime().createContainer(CreateContainerRequest.newBuilder().setPodSandboxId(sandbox)
                .setConfig(ContainerConfig.newBuilder().setMetadata(ContainerMetadata.newBuilder().setName("c"))
                        .setImage(ImageSpec.newBuilder().setImage("busybox")).setLogPath("c/0.log"))
                .setSandboxConfig(sandboxConfig("web", 0)).build()).getContainerId();
        assertStatus(Status.Code.FAILED_PRECONDITION, () -> runtime().reopenContainerLog(
                ReopenContainerLogRequest.newBuilder().setContainerId(container).build()));
        assertFalse(Files.exists(backend.logPaths.get(container).orElseThrow()));
    }

    @Test
    void reopenContainerLog_unknownContainer_notFound() throws IOException {
        start(withRecording(new RecordingBackend()));
        assertStatus(Status.Code.NOT_FOUND, () -> runtime().reopenContainerLog(
                ReopenContainerLogRequest.newBuilder().setContainerId(UNKNOWN_ID).build()));
    }

    // ------------------------------------------------------------------ socket life cycle

    @Test
    void start_staleSocketFileFromEarlierRun_replaced() throws IOException {
        CriServer first = CriServer.start(config(), CriBackends.none());
        // Simulate a crash: the socket file stays but nobody listens any more.
        Path socket = first.socket();
        Path keep = dir.resolve("kept.sock");
        Files.move(socket, keep);
        first.close();
        Files.move(keep, socket);
        start(CriBackends.none());
        assertEquals("flotilla", runtime().version(VersionRequest.getDefaultInstance()).getRuntimeName());
    }

    @Test
    void start_socketServedByAnotherProcess_refused() throws IOException {
        start(CriBackends.none());
        IOException e = assertThrows(IOException.class, () -> CriServer.start(config(), CriBackends.none()));
        assertTrue(e.getMessage().contains("already serves"), e.getMessage());
        assertEquals("flotilla", runtime().version(VersionRequest.getDefaultInstance()).getRuntimeName());
    }

    @Test
    void start_regularFileAtSocketPath_refusedAndFileKept() throws IOException {
        Path socket = Files.createDirectories(dir.resolve("run")).resolve("cri.sock");
        Files.writeString(socket, "precious");
        IOException e = assertThrows(IOException.class, () -> CriServer.start(config(), CriBackends.none()));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        assertEquals("precious", Files.readString(socket));
    }
}
