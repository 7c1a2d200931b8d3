-- +goose Up
-- A settlement line whose gateway transaction id may have come earlier in its
-- file (issue 14): the load marks it from a Bloom filter of the ids it has
-- read (no false negatives, a few false positives), so that the matcher
-- numbers the occurrences (duplicate lines) of the few candidate ids only
-- instead of sorting every line of a million-line file by id. NULL (a line
-- staged before this column) counts as a candidate: such files are matched
-- as before.
ALTER TABLE recon_settlement_lines ADD COLUMN repeat_candidate boolean;

-- +goose Down
ALTER TABLE recon_settlement_lines DROP COLUMN repeat_candidate;
