package catalog_test

import (
	"context"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

// TestReadDumpedRelations counts the sample database's relations as apply's early lock check does:
// each count pg_dump's lock estimate adds is at least the full catalog read's, and exact where no
// extension owns such a relation (the sample's tables, sequences and views are its own).
func TestReadDumpedRelations(t *testing.T) {
	_, conn := sampleDatabase(t, "CREATE MATERIALIZED VIEW mv_dumped AS SELECT 1 AS one")
	ctx := context.Background()
	full, err := catalog.ReadDatabase(ctx, conn, "app", pgver.Of(15))
	if err != nil {
		t.Fatal(err)
	}
	counted, err := catalog.ReadDumpedRelations(ctx, conn, "app")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tables", "sequences", "materialized_views", "foreign_tables"} {
		if counted.Objects[k] < full.Objects[k] {
			t.Errorf("%s: counted %d, fewer than the catalog's %d", k, counted.Objects[k], full.Objects[k])
		}
	}
	if counted.Objects["tables"] == 0 || counted.Objects["materialized_views"] != full.Objects["materialized_views"] {
		t.Errorf("counts %v, catalog's %v", counted.Objects, full.Objects)
	}
	if len(counted.Objects) > 4 {
		t.Errorf("counts of kinds pg_dump's locks do not depend on: %v", counted.Objects)
	}
}
