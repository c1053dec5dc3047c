-- A delivery claim is a lease: a worker holds an event's mail or text until `lease_until`,
-- and a claim whose worker died (or a retry that is due) is taken over once it has passed,
-- by a JetStream redelivery or by the sweeper, which reads the event from the log.
ALTER TABLE message_deliveries ADD COLUMN lease_until timestamptz NOT NULL DEFAULT now();
CREATE INDEX message_deliveries_due ON message_deliveries (lease_until)
    WHERE status IN ('sending', 'retrying');
