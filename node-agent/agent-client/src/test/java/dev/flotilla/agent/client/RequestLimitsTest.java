package dev.flotilla.agent.client;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import dev.flotilla.agent.protocol.ContainerSpec;
import dev.flotilla.agent.protocol.CreateContainer;
import dev.flotilla.agent.protocol.HostMessage;
import dev.flotilla.agent.protocol.Process;
import dev.flotilla.agent.protocol.ProcessRef;
import dev.flotilla.agent.protocol.WriteStdin;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestLimitsTest {

    static HostMessage create(Process process) {
        return HostMessage.newBuilder().setId(1).setCreateContainer(CreateContainer.newBuilder().setContainerId("c")
                .setSpec(ContainerSpec.newBuilder().setProcess(process))).build();
    }

    @Test
    void agentOptions_boundEveryStringBytesAndRepeatedField() {
        // nanopb would turn an unbounded field into a callback the agent does not implement.
        List<String> unbounded = new ArrayList<>();
        collect(HostMessage.getDescriptor(), new HashSet<>(), unbounded);
        collect(dev.flotilla.agent.protocol.AgentMessage.getDescriptor(), new HashSet<>(), unbounded);
        assertEquals(List.of(), unbounded, "fields without a bound in agent.options");
    }

    static void collect(Descriptor d, Set<String> seen, List<String> unbounded) {
        if (!seen.add(d.getFullName())) {
            return;
        }
        for (FieldDescriptor f : d.getFields()) {
            RequestLimits.Bound b = RequestLimits.agent().bound(f.getFullName());
            boolean sized = f.getJavaType() == FieldDescriptor.JavaType.STRING || f.getJavaType() == FieldDescriptor.JavaType.BYTE_STRING;
            if (f.isRepeated() && (b == null || b.maxCount() == 0)) {
                unbounded.add(f.getFullName() + " (max_count)");
            }
            if (sized && (b == null || b.maxSize() == 0)) {
                unbounded.add(f.getFullName() + " (max_size)");
            }
            if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                collect(f.getMessageType(), seen, unbounded);
            }
        }
    }

    @Test
    void check_argAtBound_accepted() {
        assertDoesNotThrow(() -> RequestLimits.agent().check(create(Process.newBuilder().addArgs("a".repeat(255)).build())));
    }

    @Test
    void check_argOverBound_rejectedNamingField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RequestLimits.agent().check(create(Process.newBuilder().addArgs("x").addArgs("a".repeat(256)).build())));
        assertTrue(e.getMessage().contains("spec.process.args[1] is 256 bytes"), e.getMessage());
    }

    @Test
    void check_multibyteCharacters_countedAsUtf8Bytes() {
        // 128 two-byte characters are 256 bytes, one over the bound, although only 128 chars
        assertThrows(IllegalArgumentException.class,
                () -> RequestLimits.agent().check(create(Process.newBuilder().addArgs("é".repeat(128)).build())));
    }

    @Test
    void check_tooManyEnvEntries_rejected() {
        Process.Builder p = Process.newBuilder().addArgs("sh");
        for (int i = 0; i < 49; i++) {
            p.addEnv("K" + i + "=v");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RequestLimits.agent().check(create(p.build())));
        assertTrue(e.getMessage().contains("env has 49 entries"), e.getMessage());
    }

    @Test
    void check_nulInString_rejected() {
        assertThrows(IllegalArgumentException.class,
                () -> RequestLimits.agent().check(create(Process.newBuilder().addArgs("a\0b").build())));
    }

    @Test
    void check_stdinChunkOverBound_rejected() {
        HostMessage m = HostMessage.newBuilder().setId(1).setWriteStdin(WriteStdin.newBuilder()
                .setProcess(ProcessRef.newBuilder().setContainerId("c")).setData(ByteString.copyFrom(new byte[32_769]))).build();
        assertThrows(IllegalArgumentException.class, () -> RequestLimits.agent().check(m));
    }

    @Test
    void parse_commentsAndBothBounds_read() {
        RequestLimits l = RequestLimits.parse("# comment\n\na.B.c max_count:4 max_size:46\n");
        assertEquals(new RequestLimits.Bound(46, 4), l.bound("a.B.c"));
    }
}
