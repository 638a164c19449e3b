package plan

import (
	"slices"
	"testing"
)

func TestPhaseOf(t *testing.T) {
	cases := map[string]string{
		TypeRole: "roles", TypeMembership: "roles", TypeLoginMembership: "roles", TypeParameter: "roles",
		TypeDatabase: "schema", TypeExtension: "schema", TypeSchema: "schema",
		TypeTable: "copy", TypeTablePart: "copy", TypeLargeObj: "copy", TypeExtData: "copy",
		TypeIndex: "indexes", TypeConstraint: "constraints",
		TypeSequences: "post-data", TypePostData: "post-data", TypeOwnership: "post-data",
		TypeAnalyze: "analyze", TypeVerify: "verify",
		"something_new": "something_new",
	}
	for typ, want := range cases {
		got := PhaseOf(typ)
		if got != want {
			t.Errorf("PhaseOf(%q) = %q, want %q", typ, got, want)
		}
		if typ != "something_new" && !slices.Contains(Phases, got) {
			t.Errorf("PhaseOf(%q) = %q is not in Phases", typ, got)
		}
	}
}
