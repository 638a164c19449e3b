package planfile

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/pgferry/pgferry/plan"
)

// Write saves p to path as indented JSON, readable by its owner only (a plan names servers and
// roles), through a temporary file renamed over path: a reader never sees half a plan.
func Write(path string, p *plan.Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Read loads the plan saved at path. It refuses, saying so, a file that is not a plan and a plan
// of another major format version (which this pgferry may not apply as it was made).
func Read(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a pgferry plan file: %v", path, err)
	}
	if p.FormatVersion == "" || p.Migration == "" {
		return nil, fmt.Errorf("%s is not a pgferry plan file (no format_version or migration)", path)
	}
	if strings.Split(p.FormatVersion, ".")[0] != strings.Split(plan.FormatVersion, ".")[0] {
		return nil, fmt.Errorf("%s has plan format %s; this pgferry reads %s: plan again with this version", path, p.FormatVersion, plan.FormatVersion)
	}
	return &p, nil
}
