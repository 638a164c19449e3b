package planfile

import (
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/plan"
)

// changesListed is how many changed objects a stale plan's error names.
const changesListed = 10

// catalogChanges says what changed on one side since a plan was made, naming the objects when the
// plan carries its digest.
func catalogChanges(side string, before, now map[string]string) string {
	changes := catalog.DigestChanges(before, now)
	if before == nil || len(changes) == 0 {
		return fmt.Sprintf("The %s's catalog changed since the plan was made (objects or roles were created, altered or dropped).", side)
	}
	more := ""
	if len(changes) > changesListed {
		more = fmt.Sprintf("\n  ... and %d more", len(changes)-changesListed)
		changes = changes[:changesListed]
	}
	return fmt.Sprintf("The %s's catalog changed since the plan was made:\n  %s%s", side, strings.Join(changes, "\n  "), more)
}

// Stale explains why a saved plan no longer fits the servers or the state, or returns "".
func Stale(saved, now *plan.Plan) string {
	switch {
	case saved.ToolVersion != now.ToolVersion:
		// As terraform refuses a plan another version made: what it planned may not be what this one does.
		return fmt.Sprintf("The plan was made by pgferry %s; this is pgferry %s.", saved.ToolVersion, now.ToolVersion)
	case saved.ConfigFingerprint != now.ConfigFingerprint:
		return "The migration's configuration changed since the plan was made."
	case saved.Source.SystemIdentifier != now.Source.SystemIdentifier || saved.Source.Host != now.Source.Host || saved.Source.Port != now.Source.Port:
		return "The source server is not the one the plan was made for."
	case saved.Target.SystemIdentifier != now.Target.SystemIdentifier || saved.Target.Host != now.Target.Host || saved.Target.Port != now.Target.Port:
		return "The target server is not the one the plan was made for."
	case saved.SourceFingerprint != now.SourceFingerprint || saved.TargetFingerprint != now.TargetFingerprint:
		var reasons []string
		if saved.SourceFingerprint != now.SourceFingerprint {
			reasons = append(reasons, catalogChanges("source", saved.SourceDigest, now.SourceDigest))
		}
		if saved.TargetFingerprint != now.TargetFingerprint {
			reasons = append(reasons, catalogChanges("target", saved.TargetDigest, now.TargetDigest))
		}
		return strings.Join(reasons, "\n")
	case saved.StateLineage != now.StateLineage || saved.StateSerial != now.StateSerial:
		return fmt.Sprintf("The state changed since the plan was made (serial %d, now %d).", saved.StateSerial, now.StateSerial)
	}
	return ""
}
