package main

import (
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/plan/planfile"
)

// Merge shims (#13): the commands' bodies keep their calls while other branches rewrite them;
// after the merge, call planfile directly and delete this file.

func writePlanFile(path string, p *plan.Plan) error { return planfile.Write(path, p) }
func readPlanFile(path string) (*plan.Plan, error)  { return planfile.Read(path) }
func stale(saved, now *plan.Plan) string            { return planfile.Stale(saved, now) }
