-- Dashboard sessions, by the SHA-256 of the ID in the browser's cookie (the ID itself is
-- never stored): kept here so that a restart keeps them and every node on one database
-- knows them. `shown_*` is a secret shown once after a create (sealed), waiting for the
-- page that shows it. Times are Unix seconds.
CREATE TABLE dashboard_sessions (
    id_hash     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    api_key_id  TEXT COLLATE "C" NOT NULL,
    csrf        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    shown_page  TEXT NOT NULL DEFAULT '',
    shown_id    TEXT NOT NULL DEFAULT '',
    shown_token TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dashboard_sessions_by_key ON dashboard_sessions (api_key_id);
