-- The edge nodes sharing this database. A node holds its row by a lease on the database's
-- own clock (`lease_until`, Unix milliseconds of `clock_timestamp()`), renewed every second;
-- a row whose lease has passed is a dead node, and other nodes delete it after a grace.
-- `epoch` grows at each registration, so that a node that lost its row (swept, or taken over
-- by a restart under the same name) learns it at its next renewal. `public_addrs` is a JSON
-- list of the addresses DNS answers for this node.
CREATE TABLE nodes (
    name          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    public_addrs  TEXT NOT NULL,
    cluster_addr  TEXT NOT NULL,
    state         TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL,
    registered_at BIGINT NOT NULL
);
