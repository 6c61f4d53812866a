-- Fleet state: nodes, sandboxes placed on them, and the history of what happened to each sandbox.

CREATE TABLE node (
    id                uuid PRIMARY KEY,
    name              text        NOT NULL UNIQUE,
    agent_endpoint    text,
    agent_token       text,
    -- SHA-256 (hex) of the bearer token issued at the last registration; the token itself is never stored.
    token_hash        text,
    kvm_kind          text        NOT NULL,
    agent_version     text,
    labels            jsonb       NOT NULL DEFAULT '{}',
    taints            jsonb       NOT NULL DEFAULT '[]',
    cap_vcpus         integer     NOT NULL,
    cap_memory_mib    bigint      NOT NULL,
    cap_max_vms       integer     NOT NULL,
    -- Sum of the requests of sandboxes placed here: maintained by the placement path under a row lock.
    alloc_vcpus       integer     NOT NULL DEFAULT 0,
    alloc_memory_mib  bigint      NOT NULL DEFAULT 0,
    alloc_vms         integer     NOT NULL DEFAULT 0,
    used_vcpus        integer     NOT NULL DEFAULT 0,
    used_memory_mib   bigint      NOT NULL DEFAULT 0,
    used_vms          integer     NOT NULL DEFAULT 0,
    state             text        NOT NULL,
    cordoned          boolean     NOT NULL DEFAULT false,
    registered_at     timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL,
    version           bigint      NOT NULL DEFAULT 0,
    CONSTRAINT node_alloc_non_negative CHECK (alloc_vcpus >= 0 AND alloc_memory_mib >= 0 AND alloc_vms >= 0)
);
CREATE INDEX node_state_heartbeat ON node (state, last_heartbeat_at);

CREATE TABLE sandbox (
    id               uuid PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name             text        NOT NULL UNIQUE,
    image            text        NOT NULL,
    command          jsonb       NOT NULL DEFAULT '[]',
    vcpus            integer     NOT NULL,
    memory_mib       bigint      NOT NULL,
    labels           jsonb       NOT NULL DEFAULT '{}',
    node_selector    jsonb       NOT NULL DEFAULT '{}',
    tolerations      jsonb       NOT NULL DEFAULT '[]',
    anti_affinity    jsonb       NOT NULL DEFAULT '{}',
    restart_policy   text        NOT NULL,
    desired_state    text        NOT NULL,
    observed_state   text        NOT NULL,
    node_id          uuid REFERENCES node (id),
    last_node_name   text,
    message          text,
    generation       bigint      NOT NULL DEFAULT 1,
    restarts         integer     NOT NULL DEFAULT 0,
    boot_time_ms     bigint,
    -- Reconciler bookkeeping: false while the node agent has not acknowledged the current desired state.
    agent_synced     boolean     NOT NULL DEFAULT false,
    sync_attempts    integer     NOT NULL DEFAULT 0,
    next_sync_at     timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    placed_at        timestamptz,
    version          bigint      NOT NULL DEFAULT 0
);
CREATE INDEX sandbox_node ON sandbox (node_id);
CREATE INDEX sandbox_observed_state ON sandbox (observed_state, seq);
CREATE INDEX sandbox_labels ON sandbox USING gin (labels jsonb_path_ops);
CREATE INDEX sandbox_unplaced ON sandbox (seq) WHERE node_id IS NULL AND observed_state = 'PENDING';
CREATE INDEX sandbox_unsynced ON sandbox (next_sync_at) WHERE NOT agent_synced AND node_id IS NOT NULL;

CREATE TABLE sandbox_event (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sandbox_id uuid        NOT NULL,
    at         timestamptz NOT NULL,
    type       text        NOT NULL,
    node_name  text,
    message    text        NOT NULL
);
CREATE INDEX sandbox_event_sandbox ON sandbox_event (sandbox_id, id);
