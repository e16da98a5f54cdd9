-- The file transfer log: one row per transfer that ended on this gateway,
-- refused, declined or delivered, so admins can see who sent what to whom.
-- A transfer between two users of the same gateway leaves two rows, one
-- per side (direction 'send' and 'receive'). Record ids come from the
-- 'file_transfers' row of id_counters, created with the first record.

CREATE TABLE file_transfers (
    id          BIGINT NOT NULL PRIMARY KEY,
    ended_at    BIGINT NOT NULL,
    transfer_id TEXT   NOT NULL,
    -- 'send': the gateway user offered the file; 'receive': it was offered to them
    direction   TEXT   NOT NULL,
    user_login  TEXT   NOT NULL,
    backend     TEXT   NOT NULL,
    sender      TEXT   NOT NULL,
    recipient   TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    size        BIGINT NOT NULL,
    -- bytes that went through before the transfer ended
    bytes       BIGINT NOT NULL,
    -- delivered, refused, declined, cancelled or failed
    outcome     TEXT   NOT NULL,
    -- for refusals, the rule: disabled, gateway_limit, type_blocked, im_server_limit, unsupported
    rule        TEXT   NOT NULL,
    detail      TEXT   NOT NULL,
    sha256      TEXT   NOT NULL
);

CREATE INDEX file_transfers_user ON file_transfers (user_login, id);
