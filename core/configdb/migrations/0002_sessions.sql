-- The session cache's records, so devices resume after a gateway restart.
-- data is the session package's own encoding of a session (ids, device
-- token hashes, acknowledged sequence numbers, a sealed password only when
-- the admin enabled credential caching); the database only indexes it.

CREATE TABLE sessions (
    id         TEXT   NOT NULL PRIMARY KEY,
    login      TEXT   NOT NULL,
    backend    TEXT   NOT NULL,
    data       BYTEA  NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX sessions_login ON sessions (login);
