-- +goose Up
-- An attempt's status job is no longer inserted with the attempt: most attempts
-- are settled by their callback within seconds, and a River job for each cost
-- more than the rest of starting the attempt. A periodic sweep
-- (payments.FollowPending) gives each attempt still pending after the first poll
-- delay its status job, in the transaction that sets followed_at. The attempt row
-- itself is the durable record that it needs following: nothing is lost when the
-- process dies between the attempt and the sweep.
ALTER TABLE payment_attempts ADD COLUMN followed_at timestamptz;
-- Attempts made before this migration got their status job when they were made.
UPDATE payment_attempts SET followed_at = created_at WHERE status = 'pending';
CREATE INDEX payment_attempts_unfollowed_idx ON payment_attempts (created_at)
    WHERE status = 'pending' AND followed_at IS NULL;

-- +goose Down
-- The versions before this one insert the status job with the attempt; an
-- attempt still waiting for its sweep when going down is left to its callback
-- and to reconciliation.
DROP INDEX payment_attempts_unfollowed_idx;
ALTER TABLE payment_attempts DROP COLUMN followed_at;
