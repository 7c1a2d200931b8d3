-- +goose Up
-- Settings for an agency in the staff console (issue 13, part 6).
--
-- Webhook endpoints of an agency. Until now every endpoint belonged to the API
-- key that created it, and received what that key is entitled to. Staff
-- create endpoints in the console for their agency: such an endpoint belongs
-- to the agency (owner_key_id NULL), receives what an agency key of that
-- agency would, and outlives any one key. agency_code is the agency an
-- endpoint belongs to: set for those, and for the endpoints of an agency's
-- API keys (the key's agency, which never changes), so an agency's staff see
-- every endpoint of their agency. Endpoints of portal, treasury and admin
-- keys have none.
ALTER TABLE webhook_endpoints
    ALTER COLUMN owner_key_id DROP NOT NULL,
    ADD COLUMN agency_code text REFERENCES agencies (code),
    ADD CONSTRAINT webhook_endpoints_owner CHECK (owner_key_id IS NOT NULL OR agency_code IS NOT NULL);
UPDATE webhook_endpoints e SET agency_code = k.agency_code
FROM auth_key_roles k
WHERE k.id = e.owner_key_id AND k.role = 'agency';
CREATE INDEX webhook_endpoints_agency_idx ON webhook_endpoints (agency_code, id) WHERE agency_code IS NOT NULL;

-- API keys: who created each (the audit actor: user:<id>, key:<prefix>,
-- cli:<os user>, system:<name>; '' for a key older than the audit log) and
-- when it last authenticated a request, written at most about once a minute
-- per key (auth.Authenticator), so requests do not queue on the key's row.
ALTER TABLE api_keys
    ADD COLUMN created_by text NOT NULL DEFAULT '',
    ADD COLUMN last_used_at timestamptz;
UPDATE api_keys k SET created_by = a.actor
FROM audit_log a
WHERE a.action = 'key.create' AND a.resource_type = 'api_key' AND a.resource_id = k.id::text;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN last_used_at, DROP COLUMN created_by;
DROP INDEX webhook_endpoints_agency_idx;
-- An endpoint of an agency has no key to belong to before this migration.
DELETE FROM webhook_endpoints WHERE owner_key_id IS NULL;
ALTER TABLE webhook_endpoints
    DROP CONSTRAINT webhook_endpoints_owner,
    DROP COLUMN agency_code,
    ALTER COLUMN owner_key_id SET NOT NULL;
