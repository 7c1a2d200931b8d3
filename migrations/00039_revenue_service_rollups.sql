-- +goose Up
-- Revenue rollups without the channel (ledger/revenue.go): per business day,
-- and per month, agency, service and currency, the sums of 00019's rollups
-- over their channels. A third of their rows: what revenue reads when it does
-- not group by channel (a year by service, or by day and service, for the
-- treasury or one agency). The database keeps them: statement triggers on
-- each 00019 table add what a statement changed there, summed per key, in the
-- same transaction, so they cover exactly the postings below the rollups'
-- horizon whichever binary runs the rollup job or a rebuild, each of their
-- rows changes once per statement (never per posting), and `ledger verify`
-- compares them with the tables they sum.

-- The rollup job's lock (ledger rollupLockKey): no run meanwhile.
SELECT pg_advisory_xact_lock(7810759523990372355);

CREATE TABLE ledger_revenue_rollups_service (
    day         date NOT NULL,
    agency      text NOT NULL,
    service     text NOT NULL,
    currency    char(3) NOT NULL,
    gross       numeric NOT NULL,
    refunds     numeric NOT NULL,
    adjustments numeric NOT NULL,
    net         numeric NOT NULL,
    postings    bigint NOT NULL, -- the rows of 0 postings are removed (no CHECK: a change is added as a row, negative when taken away)
    PRIMARY KEY (day, agency, service, currency)
);
CREATE INDEX ledger_revenue_rollups_service_agency_idx ON ledger_revenue_rollups_service (agency, day);

-- +goose StatementBegin
CREATE FUNCTION ledger_revenue_rollups_service_sum() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_revenue_rollups_service AS s (day, agency, service, currency, gross, refunds, adjustments, net, postings)
        SELECT day, agency, service, currency, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings) FROM added GROUP BY day, agency, service, currency
        ON CONFLICT (day, agency, service, currency) DO UPDATE SET
            gross = s.gross + EXCLUDED.gross, refunds = s.refunds + EXCLUDED.refunds,
            adjustments = s.adjustments + EXCLUDED.adjustments, net = s.net + EXCLUDED.net,
            postings = s.postings + EXCLUDED.postings;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO ledger_revenue_rollups_service AS s (day, agency, service, currency, gross, refunds, adjustments, net, postings)
        SELECT day, agency, service, currency, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings) FROM (
            SELECT day, agency, service, currency, gross, refunds, adjustments, net, postings FROM added
            UNION ALL
            SELECT day, agency, service, currency, -gross, -refunds, -adjustments, -net, -postings FROM removed
        ) d GROUP BY day, agency, service, currency
        ON CONFLICT (day, agency, service, currency) DO UPDATE SET
            gross = s.gross + EXCLUDED.gross, refunds = s.refunds + EXCLUDED.refunds,
            adjustments = s.adjustments + EXCLUDED.adjustments, net = s.net + EXCLUDED.net,
            postings = s.postings + EXCLUDED.postings;
    ELSE
        INSERT INTO ledger_revenue_rollups_service AS s (day, agency, service, currency, gross, refunds, adjustments, net, postings)
        SELECT day, agency, service, currency, -sum(gross), -sum(refunds), -sum(adjustments), -sum(net), -sum(postings) FROM removed GROUP BY day, agency, service, currency
        ON CONFLICT (day, agency, service, currency) DO UPDATE SET
            gross = s.gross + EXCLUDED.gross, refunds = s.refunds + EXCLUDED.refunds,
            adjustments = s.adjustments + EXCLUDED.adjustments, net = s.net + EXCLUDED.net,
            postings = s.postings + EXCLUDED.postings;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM ledger_revenue_rollups_service s USING (SELECT DISTINCT day, agency, service, currency FROM removed) r
        WHERE s.postings = 0 AND (s.day, s.agency, s.service, s.currency) = (r.day, r.agency, r.service, r.currency);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_revenue_rollups_service_ins AFTER INSERT ON ledger_revenue_rollups REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_revenue_rollups_service_sum();
CREATE TRIGGER ledger_revenue_rollups_service_upd AFTER UPDATE ON ledger_revenue_rollups REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_revenue_rollups_service_sum();
CREATE TRIGGER ledger_revenue_rollups_service_del AFTER DELETE ON ledger_revenue_rollups REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_revenue_rollups_service_sum();

-- What the rollups hold now.
INSERT INTO ledger_revenue_rollups_service (day, agency, service, currency, gross, refunds, adjustments, net, postings)
SELECT day, agency, service, currency, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings)
FROM ledger_revenue_rollups GROUP BY day, agency, service, currency;

CREATE TABLE ledger_revenue_rollups_service_monthly (
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    agency      text NOT NULL,
    service     text NOT NULL,
    currency    char(3) NOT NULL,
    gross       numeric NOT NULL,
    refunds     numeric NOT NULL,
    adjustments numeric NOT NULL,
    net         numeric NOT NULL,
    postings    bigint NOT NULL, -- the rows of 0 postings are removed (no CHECK: a change is added as a row, negative when taken away)
    PRIMARY KEY (month, agency, service, currency)
);
CREATE INDEX ledger_revenue_rollups_service_monthly_agency_idx ON ledger_revenue_rollups_service_monthly (agency, month);

-- +goose StatementBegin
CREATE FUNCTION ledger_revenue_rollups_service_monthly_sum() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_revenue_rollups_service_monthly AS s (month, agency, service, currency, gross, refunds, adjustments, net, postings)
        SELECT month, agency, service, currency, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings) FROM added GROUP BY month, agency, service, currency
        ON CONFLICT (month, agency, service, currency) DO UPDATE SET
            gross = s.gross + EXCLUDED.gross, refunds = s.refunds + EXCLUDED.refunds,
            adjustments = s.adjustments + EXCLUDED.adjustments, net = s.net + EXCLUDED.net,
            postings = s.postings + EXCLUDED.postings;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO ledger_revenue_rollups_service_monthly AS s (month, agency, service, currency, gross, refunds, adjustments, net, postings)
        SELECT month, agency, service, currency, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings) FROM (
            SELECT month, agency, service, currency, gross, refunds, adjustments, net, postings FROM added
            UNION ALL
            SELECT month, agency, service, currency, -gross, -refunds, -adjustments, -net, -postings FROM removed
        ) d GROUP BY month, agency, service, currency
        ON CONFLICT (month, agency, service, currency) DO UPDATE SET
            gross = s.gross + EXCLUDED.gross, refunds = s.refunds + EXCLUDED.refunds,
            adjustments = s.adjustments + EXCLUDED.adjustments, net = s.net + EXCLUDED.net,
            postings = s.postings + EXCLUDED.postings;
    ELSE
        INSERT INTO ledger_revenue_rollups_service_monthly AS s (month, agency, service, currency, gross, refunds, adjustments, net, postings)
        SELECT month, agency, service, currency, -sum(gross), -sum(refunds), -sum(adjustments), -sum(net), -sum(postings) FROM removed GROUP BY month, agency, service, currency
        ON CONFLICT (month, agency, service, currency) DO UPDATE SET
            gross = s.gross + EXCLUDED.gross, refunds = s.refunds + EXCLUDED.refunds,
            adjustments = s.adjustments + EXCLUDED.adjustments, net = s.net + EXCLUDED.net,
            postings = s.postings + EXCLUDED.postings;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM ledger_revenue_rollups_service_monthly s USING (SELECT DISTINCT month, agency, service, currency FROM removed) r
        WHERE s.postings = 0 AND (s.month, s.agency, s.service, s.currency) = (r.month, r.agency, r.service, r.currency);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_revenue_rollups_service_monthly_ins AFTER INSERT ON ledger_revenue_rollups_monthly REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_revenue_rollups_service_monthly_sum();
CREATE TRIGGER ledger_revenue_rollups_service_monthly_upd AFTER UPDATE ON ledger_revenue_rollups_monthly REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_revenue_rollups_service_monthly_sum();
CREATE TRIGGER ledger_revenue_rollups_service_monthly_del AFTER DELETE ON ledger_revenue_rollups_monthly REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_revenue_rollups_service_monthly_sum();

-- What the rollups hold now.
INSERT INTO ledger_revenue_rollups_service_monthly (month, agency, service, currency, gross, refunds, adjustments, net, postings)
SELECT month, agency, service, currency, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings)
FROM ledger_revenue_rollups_monthly GROUP BY month, agency, service, currency;

-- +goose Down
DROP TRIGGER ledger_revenue_rollups_service_ins ON ledger_revenue_rollups;
DROP TRIGGER ledger_revenue_rollups_service_upd ON ledger_revenue_rollups;
DROP TRIGGER ledger_revenue_rollups_service_del ON ledger_revenue_rollups;
DROP TRIGGER ledger_revenue_rollups_service_monthly_ins ON ledger_revenue_rollups_monthly;
DROP TRIGGER ledger_revenue_rollups_service_monthly_upd ON ledger_revenue_rollups_monthly;
DROP TRIGGER ledger_revenue_rollups_service_monthly_del ON ledger_revenue_rollups_monthly;
DROP TABLE ledger_revenue_rollups_service_monthly, ledger_revenue_rollups_service;
DROP FUNCTION ledger_revenue_rollups_service_monthly_sum(), ledger_revenue_rollups_service_sum();
