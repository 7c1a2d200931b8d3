-- +goose Up
-- A service whose very name tells something about the payer's legal or criminal
-- matters (a criminal-record certificate, say) is marked sensitive. The citizen
-- pages, which anyone holding a payment reference can open, then show only a
-- generic label ("Dịch vụ công" / "Public service"), the agency and the amounts
-- until the visitor proves possession of the order (payments/pages, README
-- "Citizen pages and privacy").
ALTER TABLE services ADD COLUMN sensitive boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE services DROP COLUMN sensitive;
