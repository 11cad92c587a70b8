-- What each node holds: its agent sessions and the public names (host patterns, or
-- tcp://host:port) of their tunnels. A row counts while the lease of the registration that
-- wrote it (node and epoch) holds; the rows of a dead registration are taken over by a bind
-- elsewhere and deleted when its node is swept. A name's row is the cluster's claim on it:
-- the primary key means two nodes can never both hand one out.
CREATE TABLE held_sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    node          TEXT NOT NULL,
    epoch         INTEGER NOT NULL,
    credential_id TEXT NOT NULL,
    remote        TEXT NOT NULL,
    os            TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    client_type   TEXT NOT NULL,
    started_at    INTEGER NOT NULL
);
CREATE INDEX held_sessions_node ON held_sessions (node, epoch);
CREATE TABLE held_names (
    name          TEXT PRIMARY KEY NOT NULL,
    tunnel_id     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    node          TEXT NOT NULL,
    epoch         INTEGER NOT NULL,
    public_url    TEXT NOT NULL,
    proto         TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    forwards_to   TEXT NOT NULL,
    started_at    INTEGER NOT NULL
);
CREATE INDEX held_names_node ON held_names (node, epoch);
