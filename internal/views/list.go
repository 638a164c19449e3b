package views

import "time"

// listRow is one migration in `list --json`; its keys are the grid's columns.
type listRow struct {
	Name             string     `json:"name"`
	Status           string     `json:"status"`
	Substatus        string     `json:"substatus"`
	MigrationMode    string     `json:"migration_mode"`
	MigrationType    string     `json:"migration_type"`
	SourceServer     string     `json:"source_server"`
	SourceServerType string     `json:"source_server_type"`
	TargetServer     string     `json:"target_server"`
	Databases        []string   `json:"databases"`
	Duration         string     `json:"duration"`
	DurationSeconds  *float64   `json:"duration_seconds"`
	StartTime        *time.Time `json:"start_time"`
	// EndTime is when the last run ended: for an Interrupted one whose process died, its last
	// state write.
	EndTime *time.Time `json:"end_time"`
	// sourceName and targetName are the servers' names alone, for a narrow grid.
	sourceName, targetName string
}
