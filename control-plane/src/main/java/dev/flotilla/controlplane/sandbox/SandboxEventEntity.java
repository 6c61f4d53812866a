package dev.flotilla.controlplane.sandbox;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.time.Instant;
import java.util.UUID;

/** One line of a sandbox's history. */
@Entity
@Table(name = "sandbox_event")
public class SandboxEventEntity extends PanacheEntityBase {
    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;
    @Column(name = "sandbox_id")
    public UUID sandboxId;
    public Instant at;
    public String type;
    @Column(name = "node_name")
    public String nodeName;
    public String message;

    public static void record(UUID sandboxId, String type, String nodeName, String message) {
        SandboxEventEntity event = new SandboxEventEntity();
        event.sandboxId = sandboxId;
        event.at = Instant.now();
        event.type = type;
        event.nodeName = nodeName;
        event.message = message;
        event.persist();
    }
}
