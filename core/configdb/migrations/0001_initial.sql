-- Users, groups, file transfer policies and the admin audit log.
--
-- Portable SQL only: SQLite and PostgreSQL run this file unchanged.
-- Times are unix microseconds (UTC) in BIGINT columns, the one time
-- representation both store and compare alike. Login and group names are
-- stored in lower case by the application.

CREATE TABLE user_groups (
    name        TEXT   NOT NULL PRIMARY KEY,
    description TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    login         TEXT    NOT NULL PRIMARY KEY,
    enabled       BOOLEAN NOT NULL,
    backend       TEXT    NOT NULL,
    backend_login TEXT    NOT NULL,
    group_name    TEXT    REFERENCES user_groups (name),
    display_name  TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE INDEX users_group_name ON users (group_name);

-- One policy per group; a user whose group has none (or who has no group)
-- gets the gateway's default policy from its configuration file.
CREATE TABLE group_policies (
    group_name         TEXT    NOT NULL PRIMARY KEY REFERENCES user_groups (name) ON DELETE CASCADE,
    max_file_bytes     BIGINT  NOT NULL,
    -- normalised extensions separated by ","; "*" blocks every file
    blocked_extensions TEXT    NOT NULL,
    file_transfer      BOOLEAN NOT NULL,
    optimize_allowed   BOOLEAN NOT NULL,
    updated_at         BIGINT  NOT NULL
);

CREATE TABLE audit_log (
    id         BIGINT NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    actor      TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    target     TEXT   NOT NULL,
    details    TEXT   NOT NULL
);

CREATE INDEX audit_log_target ON audit_log (target, id);

-- Counters for ids: the two databases have no common auto-increment
-- syntax, and an UPDATE of one row serialises writers on both.
CREATE TABLE id_counters (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO id_counters (name, value) VALUES ('audit_log', 0);
