-- Mails and texts sent for events: at most one per event. A worker claims an event before
-- sending and renews the claim while it retries; a claim left by a worker that died lapses
-- after five minutes so that another worker can send.
CREATE TABLE message_deliveries (
    event_id   uuid        PRIMARY KEY,
    channel    text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('sending', 'sent', 'skipped')),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
