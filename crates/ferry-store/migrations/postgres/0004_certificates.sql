-- Managed certificates: a managed certificate is a tls_certificates row whose managed_by
-- names its reserved domain or agent ingress; its job (one per owner) keeps provisioning
-- state across restarts. Private keys are sealed from now on (sealed.rs); rows an earlier
-- build wrote in plaintext are sealed at start-up.
ALTER TABLE tls_certificates ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
CREATE INDEX tls_certificates_managed_by ON tls_certificates (managed_by);
-- What the API shows of an owner's managed certificate, written with its job: the served
-- certificate's ID and ngrok's certificate_management_status.
ALTER TABLE reserved_domains ADD COLUMN managed_cert_id TEXT NOT NULL DEFAULT '';
ALTER TABLE reserved_domains ADD COLUMN cert_status TEXT NOT NULL DEFAULT 'null';
ALTER TABLE agent_ingresses ADD COLUMN managed_cert_id TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_ingresses ADD COLUMN cert_status TEXT NOT NULL DEFAULT 'null';

CREATE TABLE cert_jobs (
    id          TEXT COLLATE "C" PRIMARY KEY,
    owner_id    TEXT NOT NULL UNIQUE,
    names       TEXT NOT NULL,
    key_type    TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    msg         TEXT NOT NULL DEFAULT '',
    error_code  TEXT NOT NULL DEFAULT '',
    retries_at  TEXT NOT NULL DEFAULT '',
    attempts    BIGINT NOT NULL DEFAULT 0,
    renews_at   TEXT NOT NULL DEFAULT '',
    order_url   TEXT NOT NULL DEFAULT '',
    challenges  TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL
);
