package catalog

import (
	"sort"
	"strings"
)

// SettingDiff is a server parameter whose value on the source differs from the target's.
type SettingDiff struct {
	Name   string
	Source Setting
	// Target is the target's setting; Missing is true when the target has no such parameter.
	Target  Setting
	Missing bool
}

// comparedParameters are always compared, whatever their context: they change what queries
// return or how many clients the server accepts.
var comparedParameters = map[string]bool{
	"max_connections": true, "work_mem": true, "maintenance_work_mem": true, "TimeZone": true, "DateStyle": true,
	"IntervalStyle": true, "default_text_search_config": true, "search_path": true, "standard_conforming_strings": true,
	"lc_messages": true, "lc_monetary": true, "lc_numeric": true, "lc_time": true, "extra_float_digits": true,
	"bytea_output": true, "default_transaction_isolation": true,
}

// SkippedParameter tells parameters that belong to one server or one session, or that other
// checks own, from those that describe how the database behaves for its users.
func SkippedParameter(name string) bool {
	for _, p := range []string{"log_", "debug_", "trace_", "track_", "transaction_", "ssl", "unix_socket_", "azure.", "pgms_", "rds."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	switch name {
	case "application_name", "client_encoding", "session_authorization", "role", "is_superuser", "port", "data_directory",
		"listen_addresses", "hba_file", "ident_file", "config_file", "cluster_name", "shared_preload_libraries",
		"default_transaction_read_only", "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
		"idle_session_timeout", "transaction_timeout", "session_replication_role", "zero_damaged_pages",
		"ignore_checksum_failure", "allow_system_table_mods", "max_stack_depth", "client_min_messages",
		"in_hot_standby", "server_version", "server_version_num", "server_encoding", "lc_collate", "lc_ctype":
		return true
	}
	return false
}

// SessionOrigin reports values set for one session or one role/database only: they say nothing
// about the server.
func SessionOrigin(s Setting) bool {
	switch s.Source {
	case "client", "session", "user", "database", "database user", "override":
		return true
	}
	return false
}

// CompareSettings lists, by name, the server parameters that describe how the source behaves for its
// users and whose value the target does not share; compared is how many parameters were looked at.
func CompareSettings(src, tgt *Instance) (diffs []SettingDiff, compared int) {
	names := make([]string, 0, len(src.Settings))
	for n := range src.Settings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := src.Settings[n]
		if SkippedParameter(n) || SessionOrigin(s) {
			continue
		}
		if !comparedParameters[n] && (s.Source == "default" || (s.Context != "user" && s.Context != "superuser")) {
			continue
		}
		compared++
		t, ok := tgt.Settings[n]
		if !ok {
			diffs = append(diffs, SettingDiff{Name: n, Source: s, Missing: true})
			continue
		}
		if SessionOrigin(t) || (t.Setting == s.Setting && t.Unit == s.Unit) {
			continue
		}
		diffs = append(diffs, SettingDiff{Name: n, Source: s, Target: t})
	}
	return diffs, compared
}

// ShowSetting renders a setting's value with its unit.
func ShowSetting(s Setting) string {
	v := s.Setting
	if v == "" {
		v = "''"
	}
	if s.Unit != "" {
		return v + " " + s.Unit
	}
	return v
}
