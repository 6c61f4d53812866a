package dev.flotilla.controlplane.node;

import dev.flotilla.contract.v1.Taint;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.DynamicUpdate;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A node row. The alloc_* columns belong to the placement path and are changed only under a row lock. */
@Entity
@DynamicUpdate
@Table(name = "node")
public class NodeEntity extends PanacheEntityBase {
    @Id
    public UUID id;
    public String name;
    @Column(name = "agent_endpoint")
    public String agentEndpoint;
    @Column(name = "agent_token")
    public String agentToken;
    @Column(name = "token_hash")
    public String tokenHash;
    @Column(name = "kvm_kind")
    public String kvmKind;
    @Column(name = "agent_version")
    public String agentVersion;
    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, String> labels;
    @JdbcTypeCode(SqlTypes.JSON)
    public List<Taint> taints;
    @Column(name = "cap_vcpus")
    public int capVcpus;
    @Column(name = "cap_memory_mib")
    public long capMemoryMiB;
    @Column(name = "cap_max_vms")
    public int capMaxVms;
    @Column(name = "alloc_vcpus", updatable = false)
    public int allocVcpus;
    @Column(name = "alloc_memory_mib", updatable = false)
    public long allocMemoryMiB;
    @Column(name = "alloc_vms", updatable = false)
    public int allocVms;
    @Column(name = "used_vcpus")
    public int usedVcpus;
    @Column(name = "used_memory_mib")
    public long usedMemoryMiB;
    @Column(name = "used_vms")
    public int usedVms;
    public String state;
    public boolean cordoned;
    @Column(name = "registered_at")
    public Instant registeredAt;
    @Column(name = "last_heartbeat_at")
    public Instant lastHeartbeatAt;

    public static final String READY = "READY";
    public static final String UNHEALTHY = "UNHEALTHY";
}
