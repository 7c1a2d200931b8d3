package pgtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Fault is a fault injected into a test database by a trigger on Table,
// once: the first statement writing a row of it fails with SQLSTATE Code
// (a serialization failure "40001", a deadlock "40P01"; later writes pass:
// a sequence counts, and is not rolled back with the failure), or, with
// Code DieAtCommit, the first transaction writing a row of it loses its
// connection at COMMIT — a deferred trigger terminates its own backend,
// which is what a crash, a failover or pg_terminate_backend looks like to
// the client while its COMMIT is in flight (the transaction is not
// committed, and the client cannot know it). One Fault per database.
type Fault struct{ Table, Code string }

// DieAtCommit is the Fault Code of a connection lost during COMMIT.
const DieAtCommit = "die at commit"

// Install creates the fault's trigger.
func (f Fault) Install(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	action := fmt.Sprintf(`RAISE EXCEPTION 'injected fault' USING ERRCODE = '%s'`, f.Code)
	trigger := fmt.Sprintf(`CREATE TRIGGER civicpay_fault AFTER INSERT OR UPDATE ON %s
		FOR EACH ROW EXECUTE FUNCTION civicpay_fault()`, f.Table)
	if f.Code == DieAtCommit {
		action = `PERFORM pg_terminate_backend(pg_backend_pid())`
		trigger = fmt.Sprintf(`CREATE CONSTRAINT TRIGGER civicpay_fault AFTER INSERT OR UPDATE ON %s
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION civicpay_fault()`, f.Table)
	}
	if _, err := pool.Exec(context.Background(), `CREATE SEQUENCE civicpay_fault_seq;
		CREATE FUNCTION civicpay_fault() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('civicpay_fault_seq') = 1 THEN `+action+`; END IF;
			RETURN NULL;
		END $$;`+trigger); err != nil {
		t.Fatalf("pgtest: install fault: %v", err)
	}
}

// Fired is how many rows the trigger has seen: 2 for one row written
// again after the fault.
func (f Fault) Fired(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM civicpay_fault_seq`).Scan(&n); err != nil {
		t.Fatalf("pgtest: fault: %v", err)
	}
	return n
}
