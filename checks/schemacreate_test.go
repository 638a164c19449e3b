package checks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
)

// TestMissingSchemaCreateCapped: the message names at most maxSchemaCreate role/schema pairs, the
// last saying how many more, and an owner_map entry per role.
func TestMissingSchemaCreateCapped(t *testing.T) {
	in := &Input{
		Migration: &config.Migration{Options: config.Options{Roles: true, StripSuperuser: true}},
		Source:    &catalog.Instance{},
		Target:    &catalog.Instance{CurrentUser: "migrator"},
	}
	// A schema granting CREATE to PUBLIC is not named, nor the GRANT's example.
	sdb := &catalog.Database{SchemaCreateNeeds: []catalog.SchemaCreateNeed{{
		Role: "dba", Schema: "open", Objects: 1, SchemaOwner: "other", Grantees: []string{"PUBLIC", "other"}}}}
	for i := range 12 {
		sdb.SchemaCreateNeeds = append(sdb.SchemaCreateNeeds, catalog.SchemaCreateNeed{
			Role: "dba", Schema: fmt.Sprintf("s%02d", i), Objects: 1, SchemaOwner: "other", Grantees: []string{"other"}})
	}
	r := &Reporter{}
	if !missingSchemaCreate(in, "app", sdb, nil, r) || len(r.out) != 1 {
		t.Fatalf("reports = %v", r.out)
	}
	msg := r.out[0].Message
	for _, want := range []string{`"dba" in schema "s08" (1 object), and 3 more.`, "GRANT CREATE ON SCHEMA s00 TO dba", `owner_map = { dba = "ROLE" }`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, `"s09"`) || strings.Contains(msg, `"open"`) {
		t.Errorf("message names more than %d pairs, or open: %s", maxSchemaCreate-1, msg)
	}
	// A superuser target login needs none of it.
	in.Target.IsSuperuser = true
	if missingSchemaCreate(in, "app", sdb, nil, &Reporter{}) {
		t.Error("reported for a superuser target login")
	}
}
