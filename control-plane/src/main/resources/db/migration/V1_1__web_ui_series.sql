-- Time series behind the web UI's charts. Version 1.1 so that it sorts before any V2 added elsewhere.

-- One row per node per sample bucket (flotilla.ui.sample-interval): what its last heartbeat reported and what the
-- scheduler had reserved. The primary key makes sampling idempotent when several replicas sample the same bucket.
CREATE TABLE node_sample (
    at               timestamptz NOT NULL,
    node_id          uuid        NOT NULL,
    node_name        text        NOT NULL,
    vms              integer     NOT NULL,
    memory_mib       bigint      NOT NULL,
    alloc_vms        integer     NOT NULL,
    alloc_memory_mib bigint      NOT NULL,
    PRIMARY KEY (at, node_id)
);

-- Every boot time a node agent reported, kept after its sandbox is deleted (the sandbox row is not).
CREATE TABLE boot_time_sample (
    sandbox_id uuid PRIMARY KEY,
    at         timestamptz NOT NULL,
    node_name  text,
    millis     bigint      NOT NULL
);
CREATE INDEX boot_time_sample_at ON boot_time_sample (at);

-- Filled by a trigger rather than by the heartbeat code, so every path that records a boot time is covered.
CREATE FUNCTION record_boot_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO boot_time_sample (sandbox_id, at, node_name, millis)
    VALUES (NEW.id, now(), NEW.last_node_name, NEW.boot_time_ms)
    ON CONFLICT (sandbox_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER sandbox_boot_time AFTER INSERT OR UPDATE OF boot_time_ms ON sandbox
    FOR EACH ROW WHEN (NEW.boot_time_ms IS NOT NULL) EXECUTE FUNCTION record_boot_time();

-- Where the node agent serves a VM's serial console (VmReport.consoleUrl in heartbeats), for the dashboard.
ALTER TABLE sandbox ADD COLUMN console_url text;
