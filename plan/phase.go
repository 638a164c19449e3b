package plan

// Phases are apply's phases in the order they run, as timing tables list them.
var Phases = []string{"roles", "schema", "copy", "indexes", "constraints", "post-data", "analyze", "verify"}

// PhaseOf is the phase an action of type t belongs to: roles, schema, copy, indexes,
// constraints, post-data, analyze or verify (one of Phases); an unknown type is its own phase.
func PhaseOf(t string) string {
	switch t {
	case TypeRole, TypeMembership, TypeLoginMembership, TypeParameter:
		return "roles"
	case TypeDatabase, TypeExtension, TypeSchema:
		return "schema"
	case TypeTable, TypeTablePart, TypeLargeObj, TypeExtData:
		return "copy"
	case TypeIndex:
		return "indexes"
	case TypeConstraint:
		return "constraints"
	case TypeSequences, TypePostData, TypeOwnership:
		return "post-data"
	case TypeAnalyze:
		return "analyze"
	case TypeVerify:
		return "verify"
	}
	return t
}
