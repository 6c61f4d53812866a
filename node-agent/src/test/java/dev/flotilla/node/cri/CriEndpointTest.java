package dev.flotilla.node.cri;

import dev.flotilla.contract.v1.VmState;
import dev.flotilla.cri.v1.*;
import dev.flotilla.node.config.NodeConfig;
import dev.flotilla.node.sandbox.Sandbox;
import dev.flotilla.node.sandbox.SandboxManager;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The node agent's CRI endpoint through a grpc-java client on its Unix socket, with real tiny-guest microVMs as pod
 * sandboxes on this host's KVM and a real registry on loopback for the image service.
 */
@QuarkusTest
@QuarkusTestResource(value = CriTestResource.class, restrictToAnnotatedClass = true)
class CriEndpointTest {

    @Inject
    NodeConfig config;
    @Inject
    SandboxManager sandboxes;

    private EventLoopGroup loop;
    private ManagedChannel channel;
    private RuntimeServiceGrpc.RuntimeServiceBlockingStub runtime;
    private ImageServiceGrpc.ImageServiceBlockingStub images;

    @BeforeEach
    void connect() {
        loop = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(config.cri().socket()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext()
                .overrideAuthority("localhost").build();
        runtime = RuntimeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        images = ImageServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    @AfterEach
    void disconnect() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    private String registry() {
        return config.containers().insecureRegistries().orElseThrow().getFirst();
    }

    private String image() {
        return registry() + "/" + CriTestResource.IMAGE_PATH;
    }

    // ------------------------------------------------------------------ runtime

    @Test
    void socket_servesVersionAndReadyRuntime() {
        assertTrue(Files.exists(Path.of(config.cri().socket())), "the socket file exists");
        VersionResponse version = runtime.version(VersionRequest.getDefaultInstance());
        assertEquals("flotilla", version.getRuntimeName());
        assertEquals("v1", version.getRuntimeApiVersion());
        RuntimeCondition ready = runtime.status(StatusRequest.getDefaultInstance()).getStatus().getConditionsList()
                .stream().filter(c -> c.getType().equals("RuntimeReady")).findFirst().orElseThrow();
        assertTrue(ready.getStatus(), "tiny-guest pods can run on this KVM: " + ready.getMessage());
    }

    // ------------------------------------------------------------------ images

    @Test
    void pullImage_fromLoopbackRegistry_isListedByIdAndTagThenRemoved() {
        String id = images.pullImage(PullImageRequest.newBuilder().setImage(spec(image())).build()).getImageRef();
        assertTrue(id.matches("sha256:[0-9a-f]{64}"), id);

        Image listed = images.listImages(ListImagesRequest.getDefaultInstance()).getImagesList().stream()
                .filter(i -> i.getId().equals(id)).findFirst().orElseThrow();
        assertTrue(listed.getRepoTagsList().contains(image()), listed.getRepoTagsList().toString());
        assertTrue(listed.getRepoDigests(0).startsWith(registry() + "/cri/busybox@sha256:"), listed.toString());
        assertTrue(listed.getSize() > 100_000, "busybox layer size " + listed.getSize());
        assertEquals(1000, listed.getUid().getValue(), "the image's User 1000:1000");

        assertEquals(id, images.imageStatus(status(image())).getImage().getId(), "by reference");
        assertEquals(id, images.imageStatus(status(id)).getImage().getId(), "by id");
        assertEquals(id, images.imageStatus(status(listed.getRepoDigests(0))).getImage().getId(), "by repo digest");
        assertEquals(id, images.listImages(ListImagesRequest.newBuilder().setFilter(ImageFilter.newBuilder()
                .setImage(spec(image()))).build()).getImages(0).getId(), "list filter");

        FilesystemUsage fs = images.imageFsInfo(ImageFsInfoRequest.getDefaultInstance()).getImageFilesystems(0);
        assertTrue(fs.getUsedBytes().getValue() > 100_000, "store holds the layer and rootfs: " + fs);
        assertTrue(fs.getFsId().getMountpoint().endsWith("images"), fs.getFsId().getMountpoint());

        // A second pull finds the stored image: same id.
        assertEquals(id, images.pullImage(PullImageRequest.newBuilder().setImage(spec(image())).build()).getImageRef());

        images.removeImage(RemoveImageRequest.newBuilder().setImage(spec(id)).build());
        assertFalse(images.imageStatus(status(image())).hasImage(), "gone after RemoveImage by id");
        assertTrue(images.listImages(ListImagesRequest.getDefaultInstance()).getImagesList().stream()
                .noneMatch(i -> i.getId().equals(id)));
        // Idempotent.
        images.removeImage(RemoveImageRequest.newBuilder().setImage(spec(id)).build());
    }

    @Test
    void pullImage_withCredentialsTheRegistryIgnores_succeeds() {
        // docker-registry without auth accepts any credentials: the decoding path of auth is exercised end to end.
        String auth = java.util.Base64.getEncoder().encodeToString("user:secret".getBytes());
        String id = images.pullImage(PullImageRequest.newBuilder().setImage(spec(image()))
                .setAuth(AuthConfig.newBuilder().setServerAddress(registry()).setAuth(auth)).build()).getImageRef();
        assertTrue(id.startsWith("sha256:"));
    }

    @Test
    void pullImage_badReferencesAndRegistries_answerTheRightCodes() {
        assertCode(Status.Code.INVALID_ARGUMENT, () -> images.pullImage(PullImageRequest.newBuilder()
                .setImage(spec("Bad/UPPER::case")).build()));
        assertCode(Status.Code.NOT_FOUND, () -> images.pullImage(PullImageRequest.newBuilder()
                .setImage(spec(registry() + "/cri/missing:1")).build()));
        assertCode(Status.Code.UNAVAILABLE, () -> images.pullImage(PullImageRequest.newBuilder()
                .setImage(spec("127.0.0.1:1/cri/busybox:1")).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> images.pullImage(PullImageRequest.newBuilder()
                .setImage(spec(image())).setAuth(AuthConfig.newBuilder().setRegistryToken("t")).build()));
        assertFalse(images.imageStatus(status(registry() + "/cri/missing:1")).hasImage(), "nothing stored");
    }

    // ------------------------------------------------------------------ pod sandboxes

    @Test
    void podSandbox_runStatusListStopRemove_followsItsMicroVm() {
        String name = "web-" + UUID.randomUUID().toString().substring(0, 8);
        String id = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(pod(name, 0))
                .setRuntimeHandler("flotilla").build()).getPodSandboxId();

        Sandbox vm = sandboxes.find(id).orElseThrow();
        assertEquals(VmState.RUNNING, vm.state(), "the pod's microVM runs");
        assertTrue(vm.spec().pod() != null);

        PodSandboxStatusResponse status = runtime.podSandboxStatus(PodSandboxStatusRequest.newBuilder()
                .setPodSandboxId(id).setVerbose(true).build());
        assertEquals(PodSandboxState.SANDBOX_READY, status.getStatus().getState());
        assertEquals(name, status.getStatus().getMetadata().getName());
        assertEquals("flotilla", status.getStatus().getRuntimeHandler());
        assertEquals("web", status.getStatus().getLabelsMap().get("app"));
        assertTrue(status.getInfoMap().get("vm").contains("\"state\":\"RUNNING\""), status.getInfoMap().toString());

        List<PodSandbox> byLabel = runtime.listPodSandbox(ListPodSandboxRequest.newBuilder().setFilter(
                PodSandboxFilter.newBuilder().putLabelSelector("run", name)).build()).getItemsList();
        assertEquals(List.of(id), byLabel.stream().map(PodSandbox::getId).toList());

        PodSandboxStats stats = runtime.podSandboxStats(PodSandboxStatsRequest.newBuilder().setPodSandboxId(id).build())
                .getStats();
        assertTrue(stats.getLinux().getMemory().getWorkingSetBytes().getValue() > 0, "resident guest memory");

        runtime.stopPodSandbox(StopPodSandboxRequest.newBuilder().setPodSandboxId(id).build());
        assertEquals(PodSandboxState.SANDBOX_NOTREADY, runtime.podSandboxStatus(PodSandboxStatusRequest.newBuilder()
                .setPodSandboxId(id).build()).getStatus().getState());
        assertEquals(VmState.STOPPED, sandboxes.find(id).orElseThrow().state(), "VM stopped");
        assertEquals(List.of(), runtime.listPodSandbox(ListPodSandboxRequest.newBuilder().setFilter(
                PodSandboxFilter.newBuilder().setId(id).setState(PodSandboxStateValue.newBuilder()
                        .setState(PodSandboxState.SANDBOX_READY))).build()).getItemsList(), "not ready any more");
        runtime.stopPodSandbox(StopPodSandboxRequest.newBuilder().setPodSandboxId(id).build()); // idempotent

        runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build());
        assertCode(Status.Code.NOT_FOUND, () -> runtime.podSandboxStatus(PodSandboxStatusRequest.newBuilder()
                .setPodSandboxId(id).build()));
        assertTrue(sandboxes.find(id).isEmpty(), "the sandbox and its record are gone");
        runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build()); // idempotent

        // The name is free again.
        String again = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(pod(name, 0)).build())
                .getPodSandboxId();
        runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(again).build());
    }

    @Test
    void podSandbox_sizedFromItsLinuxResources() {
        PodSandboxConfig config = pod("sized-" + UUID.randomUUID().toString().substring(0, 8), 0).toBuilder()
                .setLinux(LinuxPodSandboxConfig.newBuilder().setResources(LinuxContainerResources.newBuilder()
                        .setCpuPeriod(100_000).setCpuQuota(150_000).setMemoryLimitInBytes(48L << 20)))
                .build();
        String id = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(config).build())
                .getPodSandboxId();
        try {
            Sandbox vm = sandboxes.find(id).orElseThrow();
            assertEquals(2, vm.spec().vcpus(), "1.5 CPUs round up to 2 vCPUs");
            assertEquals(48, vm.spec().memoryMiB(), "the pod's memory limit (tiny guests need no base memory)");
        } finally {
            runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build());
        }
    }

    @Test
    void podSandbox_duplicateNameAndAttempt_isAlreadyExistsAndLeavesOneVm() {
        String name = "dup-" + UUID.randomUUID().toString().substring(0, 8);
        String id = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(pod(name, 0)).build())
                .getPodSandboxId();
        try {
            int vms = sandboxes.list().size();
            assertCode(Status.Code.ALREADY_EXISTS, () -> runtime.runPodSandbox(RunPodSandboxRequest.newBuilder()
                    .setConfig(pod(name, 0)).build()));
            assertEquals(vms, sandboxes.list().size(), "no second VM");
            // A new attempt is a new sandbox.
            String retry = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(pod(name, 1)).build())
                    .getPodSandboxId();
            runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(retry).build());
        } finally {
            runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build());
        }
    }

    @Test
    void podSandbox_largerThanTheNode_isResourceExhaustedAndLeavesNothing() {
        String name = "huge-" + UUID.randomUUID().toString().substring(0, 8);
        PodSandboxConfig config = pod(name, 0).toBuilder().setLinux(LinuxPodSandboxConfig.newBuilder()
                .setResources(LinuxContainerResources.newBuilder().setMemoryLimitInBytes(1L << 50))).build();
        int before = sandboxes.list().size();
        assertCode(Status.Code.RESOURCE_EXHAUSTED, () -> runtime.runPodSandbox(RunPodSandboxRequest.newBuilder()
                .setConfig(config).build()));
        assertEquals(before, sandboxes.list().size(), "no sandbox left behind");
        assertTrue(runtime.listPodSandbox(ListPodSandboxRequest.getDefaultInstance()).getItemsList().stream()
                .noneMatch(p -> p.getMetadata().getName().equals(name)));
        // The name was released: a pod that fits takes it.
        String id = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(pod(name, 0)).build())
                .getPodSandboxId();
        runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build());
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void unknownIds_areNotFound() {
        String unknown = "ab".repeat(32);
        assertCode(Status.Code.NOT_FOUND, () -> runtime.podSandboxStatus(PodSandboxStatusRequest.newBuilder()
                .setPodSandboxId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.stopPodSandbox(StopPodSandboxRequest.newBuilder()
                .setPodSandboxId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.podSandboxStats(PodSandboxStatsRequest.newBuilder()
                .setPodSandboxId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.containerStatus(ContainerStatusRequest.newBuilder()
                .setContainerId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.startContainer(StartContainerRequest.newBuilder()
                .setContainerId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.stopContainer(StopContainerRequest.newBuilder()
                .setContainerId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.execSync(ExecSyncRequest.newBuilder()
                .setContainerId(unknown).addCmd("true").build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.createContainer(CreateContainerRequest.newBuilder()
                .setPodSandboxId(unknown).setConfig(container("c")).setSandboxConfig(pod("x", 0)).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.containerStats(ContainerStatsRequest.newBuilder()
                .setContainerId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.reopenContainerLog(ReopenContainerLogRequest.newBuilder()
                .setContainerId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.updateContainerResources(UpdateContainerResourcesRequest
                .newBuilder().setContainerId(unknown).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.exec(ExecRequest.newBuilder().setContainerId(unknown)
                .addCmd("sh").setStdout(true).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.portForward(PortForwardRequest.newBuilder()
                .setPodSandboxId(unknown).addPort(80).build()));
        assertCode(Status.Code.NOT_FOUND, () -> runtime.attach(AttachRequest.newBuilder().setContainerId(unknown)
                .setStdout(true).build()));
        assertCode(Status.Code.INVALID_ARGUMENT, () -> runtime.podSandboxStatus(PodSandboxStatusRequest.newBuilder()
                .setPodSandboxId("not-an-id").build()));
        // Removal is idempotent.
        runtime.removeContainer(RemoveContainerRequest.newBuilder().setContainerId(unknown).build());
        runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(unknown).build());
    }

    @Test
    void createContainer_inATinyPod_isFailedPreconditionAndLeavesNoContainer() {
        images.pullImage(PullImageRequest.newBuilder().setImage(spec(image())).build());
        PodSandboxConfig config = pod("tiny-" + UUID.randomUUID().toString().substring(0, 8), 0);
        String id = runtime.runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(config).build())
                .getPodSandboxId();
        try {
            StatusRuntimeException e = assertCode(Status.Code.FAILED_PRECONDITION, () -> runtime.createContainer(
                    CreateContainerRequest.newBuilder().setPodSandboxId(id).setConfig(container("app"))
                            .setSandboxConfig(config).build()));
            assertTrue(e.getStatus().getDescription().contains("tiny guest"), e.getStatus().getDescription());
            assertTrue(runtime.listContainers(ListContainersRequest.newBuilder().setFilter(ContainerFilter
                    .newBuilder().setPodSandboxId(id)).build()).getContainersList().isEmpty());
            // A tiny pod without the agent's network has nothing to forward ports to: said, not a URL.
            StatusRuntimeException ports = assertCode(Status.Code.FAILED_PRECONDITION, () -> runtime.portForward(
                    PortForwardRequest.newBuilder().setPodSandboxId(id).addPort(80).build()));
            assertTrue(ports.getStatus().getDescription().contains("no network"), ports.getStatus().getDescription());
            // The name was not kept: the same request fails the same way, not with ALREADY_EXISTS.
            assertCode(Status.Code.FAILED_PRECONDITION, () -> runtime.createContainer(CreateContainerRequest
                    .newBuilder().setPodSandboxId(id).setConfig(container("app")).setSandboxConfig(config).build()));
        } finally {
            runtime.removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build());
        }
    }

    // ------------------------------------------------------------------ helpers

    private static ImageSpec spec(String image) {
        return ImageSpec.newBuilder().setImage(image).build();
    }

    private static ImageStatusRequest status(String image) {
        return ImageStatusRequest.newBuilder().setImage(spec(image)).build();
    }

    private static PodSandboxConfig pod(String name, int attempt) {
        return PodSandboxConfig.newBuilder()
                .setMetadata(PodSandboxMetadata.newBuilder().setName(name).setNamespace("default")
                        .setUid(UUID.nameUUIDFromBytes(name.getBytes()).toString()).setAttempt(attempt))
                .setHostname(name).setLogDirectory("/tmp/flotilla-cri-test-logs/" + name)
                .putLabels("app", "web").putLabels("run", name)
                .build();
    }

    private static ContainerConfig container(String name) {
        return ContainerConfig.newBuilder().setMetadata(ContainerMetadata.newBuilder().setName(name))
                .setImage(ImageSpec.newBuilder().setImage("127.0.0.1:5000/cri/busybox:1")).setLogPath(name + ".log")
                .build();
    }

    private static StatusRuntimeException assertCode(Status.Code code, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().getDescription());
        assertFalse(e.getStatus().getDescription() == null || e.getStatus().getDescription().isBlank(),
                "an operator-readable message");
        return e;
    }
}
