-- +goose Up
-- Statement files' bytes (recon_file_chunks.data, 1 MiB a row) were
-- compressed with PostgreSQL's default pglz, which at a 120 MB settlement
-- file was most of the time of storing it (Import) and a good part of
-- reading it back (Load). lz4 compresses such text about as well at a small
-- fraction of the CPU. Only chunks written from now on are lz4; the older
-- ones stay pglz and read back as before. A server built without lz4 keeps
-- pglz (the statement is skipped, not failed).
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE recon_file_chunks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'recon_file_chunks.data stays pglz: this server has no lz4';
END $$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE recon_file_chunks ALTER COLUMN data SET COMPRESSION default;
