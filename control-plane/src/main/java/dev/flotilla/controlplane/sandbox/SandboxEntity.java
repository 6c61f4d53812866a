package dev.flotilla.controlplane.sandbox;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import org.hibernate.annotations.DynamicUpdate;
import org.hibernate.annotations.Generated;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A sandbox row: the user's spec, desired and observed state, and where it is placed. */
@Entity
@DynamicUpdate
@Table(name = "sandbox")
public class SandboxEntity extends PanacheEntityBase {
    @Id
    public UUID id;
    @Generated
    @Column(insertable = false, updatable = false)
    public Long seq;
    public String name;
    public String image;
    @JdbcTypeCode(SqlTypes.JSON)
    public List<String> command;
    public int vcpus;
    @Column(name = "memory_mib")
    public long memoryMiB;
    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, String> labels;
    @JdbcTypeCode(SqlTypes.JSON)
    @Column(name = "node_selector")
    public Map<String, String> nodeSelector;
    @JdbcTypeCode(SqlTypes.JSON)
    public List<TolerationSpec> tolerations;
    @JdbcTypeCode(SqlTypes.JSON)
    @Column(name = "anti_affinity")
    public Map<String, String> antiAffinity;
    @Column(name = "restart_policy")
    public String restartPolicy;
    @Column(name = "desired_state")
    public String desiredState;
    @Column(name = "observed_state")
    public String observedState;
    @Column(name = "node_id")
    public UUID nodeId;
    @Column(name = "last_node_name")
    public String lastNodeName;
    public String message;
    public long generation;
    public int restarts;
    @Column(name = "boot_time_ms")
    public Long bootTimeMs;
    /** Where the node agent serves the VM's serial console, as its last heartbeat reported; null for none. */
    @Column(name = "console_url")
    public String consoleUrl;
    @Column(name = "agent_synced")
    public boolean agentSynced;
    @Column(name = "sync_attempts")
    public int syncAttempts;
    @Column(name = "next_sync_at")
    public Instant nextSyncAt;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Column(name = "placed_at")
    public Instant placedAt;
    @Version
    public long version;
}
