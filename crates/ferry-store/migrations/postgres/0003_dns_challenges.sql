-- DNS-01 challenges pending now: the TXT values Ferry's DNS answers at each name (an
-- acme_challenge_cname_target, or _acme-challenge under an agent ingress domain). In the
-- store so that they survive a restart and every node answers the same.
CREATE TABLE dns_challenges (
    name       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, value)
);
