package dev.flotilla.cri;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import dev.flotilla.cri.v1.AuthConfig;
import dev.flotilla.cri.v1.ContainerConfig;
import dev.flotilla.cri.v1.ContainerState;
import dev.flotilla.cri.v1.ContainerStatus;
import dev.flotilla.cri.v1.CriApiProto;
import dev.flotilla.cri.v1.ExecRequest;
import dev.flotilla.cri.v1.ImageSpec;
import dev.flotilla.cri.v1.LinuxContainerSecurityContext;
import dev.flotilla.cri.v1.LinuxSandboxSecurityContext;
import dev.flotilla.cri.v1.Mount;
import dev.flotilla.cri.v1.PodSandboxConfig;
import dev.flotilla.cri.v1.PodSandboxState;
import dev.flotilla.cri.v1.PodSandboxStatus;
import dev.flotilla.cri.v1.Signal;
import dev.flotilla.cri.v1.StatusResponse;
import dev.flotilla.cri.v1.VersionRequest;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Our api.proto against facts of upstream k8s.io/cri-api runtime/v1 (Kubernetes 1.36), written down here as
 * expectations: names and field numbers of the messages a kubelet exchanges most, enum values, and the RPC names.
 * A renumbered or renamed field breaks the wire silently, so each is pinned.
 */
class ProtoWireCompatibilityTest {

    private static Map<String, Integer> fields(Descriptor message) {
        Map<String, Integer> numbers = new LinkedHashMap<>();
        message.getFields().forEach(f -> numbers.put(f.getName(), f.getNumber()));
        return numbers;
    }

    private static void assertFields(Descriptor message, Object... nameNumberPairs) {
        Map<String, Integer> actual = fields(message);
        for (int i = 0; i < nameNumberPairs.length; i += 2) {
            String name = (String) nameNumberPairs[i];
            assertEquals(nameNumberPairs[i + 1], actual.get(name), message.getName() + "." + name);
        }
    }

    private static void assertEnum(EnumDescriptor e, Object... nameNumberPairs) {
        for (int i = 0; i < nameNumberPairs.length; i += 2) {
            var value = e.findValueByName((String) nameNumberPairs[i]);
            assertNotNull(value, e.getName() + "." + nameNumberPairs[i]);
            assertEquals(nameNumberPairs[i + 1], value.getNumber(), e.getName() + "." + nameNumberPairs[i]);
        }
    }

    @Test
    void services_packageAndNames_matchUpstream() {
        List<String> services = CriApiProto.getDescriptor().getServices().stream()
                .map(ServiceDescriptor::getFullName).toList();
        assertEquals(List.of("runtime.v1.RuntimeService", "runtime.v1.ImageService"), services);
    }

    @Test
    void runtimeService_hasEveryRpcTheKubeletCalls() {
        ServiceDescriptor runtime = CriApiProto.getDescriptor().findServiceByName("RuntimeService");
        for (String rpc : List.of("Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox",
                "PodSandboxStatus", "ListPodSandbox", "CreateContainer", "StartContainer", "StopContainer",
                "RemoveContainer", "ListContainers", "ContainerStatus", "UpdateContainerResources",
                "ReopenContainerLog", "ExecSync", "Exec", "Attach", "PortForward", "ContainerStats",
                "ListContainerStats", "PodSandboxStats", "ListPodSandboxStats", "UpdateRuntimeConfig", "Status",
                "CheckpointContainer", "GetContainerEvents", "ListMetricDescriptors", "ListPodSandboxMetrics",
                "RuntimeConfig", "UpdatePodSandboxResources")) {
            assertNotNull(runtime.findMethodByName(rpc), "RuntimeService." + rpc);
        }
        assertEquals("ContainerEventResponse",
                runtime.findMethodByName("GetContainerEvents").getOutputType().getName());
        assertTrue(runtime.findMethodByName("GetContainerEvents").isServerStreaming());
    }

    @Test
    void imageService_hasEveryRpcTheKubeletCalls() {
        ServiceDescriptor images = CriApiProto.getDescriptor().findServiceByName("ImageService");
        for (String rpc : List.of("ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo")) {
            assertNotNull(images.findMethodByName(rpc), "ImageService." + rpc);
        }
    }

    @Test
    void podSandboxConfig_fieldNumbers_matchUpstream() {
        assertFields(PodSandboxConfig.getDescriptor(), "metadata", 1, "hostname", 2, "log_directory", 3,
                "dns_config", 4, "port_mappings", 5, "labels", 6, "annotations", 7, "linux", 8);
    }

    @Test
    void containerConfig_fieldNumbers_matchUpstream() {
        assertFields(ContainerConfig.getDescriptor(), "metadata", 1, "image", 2, "command", 3, "args", 4,
                "working_dir", 5, "envs", 6, "mounts", 7, "devices", 8, "labels", 9, "annotations", 10,
                "log_path", 11, "stdin", 12, "stdin_once", 13, "tty", 14, "linux", 15, "CDI_devices", 17,
                "stop_signal", 18);
    }

    @Test
    void containerStatus_fieldNumbers_matchUpstream() {
        assertFields(ContainerStatus.getDescriptor(), "id", 1, "metadata", 2, "state", 3, "created_at", 4,
                "started_at", 5, "finished_at", 6, "exit_code", 7, "image", 8, "image_ref", 9, "reason", 10,
                "message", 11, "labels", 12, "annotations", 13, "mounts", 14, "log_path", 15, "resources", 16,
                "image_id", 17, "user", 18, "stop_signal", 19);
    }

    @Test
    void podSandboxStatus_fieldNumbers_matchUpstream() {
        assertFields(PodSandboxStatus.getDescriptor(), "id", 1, "metadata", 2, "state", 3, "created_at", 4,
                "network", 5, "linux", 6, "labels", 7, "annotations", 8, "runtime_handler", 9);
    }

    @Test
    void securityContexts_outOfOrderFieldNumbers_matchUpstream() {
        assertFields(LinuxSandboxSecurityContext.getDescriptor(), "namespace_options", 1, "run_as_user", 3,
                "run_as_group", 8, "readonly_rootfs", 4, "supplemental_groups", 5, "supplemental_groups_policy", 11,
                "privileged", 6, "seccomp", 9, "apparmor", 10);
        assertFields(LinuxContainerSecurityContext.getDescriptor(), "capabilities", 1, "privileged", 2,
                "run_as_user", 5, "run_as_group", 12, "run_as_username", 6, "supplemental_groups_policy", 17,
                "no_new_privs", 11, "masked_paths", 13, "readonly_paths", 14, "seccomp", 15, "apparmor", 16);
    }

    @Test
    void imageSpecMountAndAuth_fieldNumbers_matchUpstream() {
        assertFields(ImageSpec.getDescriptor(), "image", 1, "annotations", 2, "user_specified_image", 18,
                "runtime_handler", 19, "image_ref", 20);
        assertFields(Mount.getDescriptor(), "container_path", 1, "host_path", 2, "readonly", 3,
                "selinux_relabel", 4, "propagation", 5, "uidMappings", 6, "gidMappings", 7,
                "recursive_read_only", 8, "image", 9, "image_sub_path", 10);
        assertFields(AuthConfig.getDescriptor(), "username", 1, "password", 2, "auth", 3, "server_address", 4,
                "identity_token", 5, "registry_token", 6);
    }

    @Test
    void execAndStatus_fieldNumbers_matchUpstream() {
        assertFields(ExecRequest.getDescriptor(), "container_id", 1, "cmd", 2, "tty", 3, "stdin", 4, "stdout", 5,
                "stderr", 6, "audit_request_id", 7);
        assertFields(StatusResponse.getDescriptor(), "status", 1, "info", 2, "runtime_handlers", 3, "features", 4);
    }

    @Test
    void enums_values_matchUpstream() {
        assertEnum(ContainerState.getDescriptor(), "CONTAINER_CREATED", 0, "CONTAINER_RUNNING", 1,
                "CONTAINER_EXITED", 2, "CONTAINER_UNKNOWN", 3);
        assertEnum(PodSandboxState.getDescriptor(), "SANDBOX_READY", 0, "SANDBOX_NOTREADY", 1);
        // Upstream numbers signals alphabetically, not by Linux signal number.
        assertEnum(Signal.getDescriptor(), "RUNTIME_DEFAULT", 0, "SIGKILL", 13, "SIGTERM", 23, "SIGRTMAX", 65);
    }

    @Test
    void versionRequest_encoding_isFieldOneLengthDelimited() {
        byte[] wire = VersionRequest.newBuilder().setVersion("v1").build().toByteArray();
        assertEquals("0a027631", HexFormat.of().formatHex(wire));
    }
}
