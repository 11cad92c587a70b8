-- The edge nodes sharing this database. A node holds its row by a lease on the database's
-- own clock (`lease_until`, Unix milliseconds of the clock SQLite reads), renewed every second;
-- a row whose lease has passed is a dead node, and other nodes delete it after a grace.
-- `epoch` grows at each registration, so that a node that lost its row (swept, or taken over
-- by a restart under the same name) learns it at its next renewal. `public_addrs` is a JSON
-- list of the addresses DNS answers for this node.
CREATE TABLE nodes (
    name          TEXT PRIMARY KEY NOT NULL,
    region        TEXT NOT NULL,
    public_addrs  TEXT NOT NULL,
    cluster_addr  TEXT NOT NULL,
    state         TEXT NOT NULL,
    epoch         INTEGER NOT NULL,
    lease_until   INTEGER NOT NULL,
    registered_at INTEGER NOT NULL
);
