-- A delivery claim is a lease: a worker holds an event's mail or text until `lease_until`,
-- and a claim whose worker died (or a retry that is due) is taken over once it has passed,
-- by a JetStream redelivery or by the sweeper, which reads the event from the log.
-- `claimed_by` names the worker process holding it, so that a worker whose own claim was
-- recorded but not seen (the connection broke at the commit) takes it again at once.
ALTER TABLE message_deliveries ADD COLUMN lease_until timestamptz NOT NULL DEFAULT now();
ALTER TABLE message_deliveries ADD COLUMN claimed_by uuid;
CREATE INDEX message_deliveries_due ON message_deliveries (lease_until)
    WHERE status IN ('sending', 'retrying');
