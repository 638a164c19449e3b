package plan

import "github.com/pgferry/pgferry/state"

// Summarize counts actions and validation outcomes.
func Summarize(actions []*Action, vals []state.Validation) Summary {
	var s Summary
	for _, a := range actions {
		switch a.Kind {
		case Create:
			s.Add++
		case Update:
			s.Change++
		case Replace:
			s.Add++
			s.Destroy++
		case Delete:
			s.Destroy++
		}
		switch a.Type {
		case TypeRole:
			if a.Kind == Create {
				s.Roles++
			}
		case TypeDatabase:
			if a.Kind != Update {
				s.Databases++
			}
		case TypeTable:
			s.Tables++
			s.Rows += a.RowsEstimate
			s.Bytes += a.BytesEstimate
		case TypeIndex:
			s.Indexes++
		case TypeConstraint:
			s.Constraints++
		}
	}
	for _, v := range vals {
		switch v.Outcome {
		case "Failed":
			s.Failed++
		case "Warning":
			s.Warnings++
		}
	}
	return s
}
