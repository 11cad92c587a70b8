-- The control plane's resources. Lists, maps and policies are JSON text; booleans are
-- integers (0/1) so that both databases read them the same way.
CREATE TABLE bot_users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    active     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE agent_ingresses (
    id          TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '',
    domain      TEXT NOT NULL UNIQUE,
    cert_policy TEXT NOT NULL DEFAULT 'null',
    created_at  TEXT NOT NULL
);

CREATE TABLE reserved_domains (
    id             TEXT PRIMARY KEY,
    description    TEXT NOT NULL DEFAULT '',
    metadata       TEXT NOT NULL DEFAULT '',
    domain         TEXT NOT NULL UNIQUE,
    region         TEXT NOT NULL DEFAULT '',
    certificate_id TEXT NOT NULL DEFAULT '',
    cert_policy    TEXT NOT NULL DEFAULT 'null',
    cname_target   TEXT NOT NULL DEFAULT '',
    acme_target    TEXT NOT NULL DEFAULT '',
    resolves_to    TEXT NOT NULL DEFAULT '[]',
    created_at     TEXT NOT NULL
);

CREATE TABLE reserved_addrs (
    id          TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '',
    addr        TEXT NOT NULL UNIQUE,
    region      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE certificate_authorities (
    id          TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '',
    ca_pem      TEXT NOT NULL,
    parsed      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE tls_certificates (
    id              TEXT PRIMARY KEY,
    description     TEXT NOT NULL DEFAULT '',
    metadata        TEXT NOT NULL DEFAULT '',
    certificate_pem TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    parsed          TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
