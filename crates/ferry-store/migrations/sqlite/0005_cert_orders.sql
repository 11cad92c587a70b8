-- ACME orders placed, by registered domain: what the pacing of new orders counts to stay
-- inside the CA's limit per registered domain (Let's Encrypt: 50 a week). Managed
-- certificates are replaced on renewal, so they cannot be counted instead.
CREATE TABLE cert_orders (
    registered_domain TEXT NOT NULL,
    ordered_at        TEXT NOT NULL
);
CREATE INDEX cert_orders_by_domain ON cert_orders (registered_domain, ordered_at);
