package dev.flotilla.cri.service;

import com.google.protobuf.ByteString;
import dev.flotilla.cri.backend.ContainerBackend;
import dev.flotilla.cri.v1.ExecSyncResponse;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class ExecSyncCapTest {

    @Test
    void capOutput_stdoutOverCap_truncatedToCapExitCodeKept() {
        ExecSyncResponse big = ExecSyncResponse.newBuilder()
                .setStdout(ByteString.copyFrom(new byte[ContainerBackend.EXEC_SYNC_OUTPUT_CAP + 10]))
                .setStderr(ByteString.copyFromUtf8("warn"))
                .setExitCode(3).build();
        ExecSyncResponse capped = RuntimeServiceImpl.capOutput(big);
        assertEquals(ContainerBackend.EXEC_SYNC_OUTPUT_CAP, capped.getStdout().size());
        assertEquals("warn", capped.getStderr().toStringUtf8());
        assertEquals(3, capped.getExitCode());
    }

    @Test
    void capOutput_withinCap_unchanged() {
        ExecSyncResponse small = ExecSyncResponse.newBuilder().setStdout(ByteString.copyFromUtf8("ok")).build();
        assertSame(small, RuntimeServiceImpl.capOutput(small));
    }
}
