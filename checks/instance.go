package checks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgferry/pgferry/catalog"
)

// roleSettingOrigin is where settingFor says a value of ALTER ROLE/DATABASE ... SET comes from.
const roleSettingOrigin = "ALTER ROLE/DATABASE ... SET"

// settingFor returns the value of parameter name for login in database db as the catalog knows it:
// the most specific ALTER ROLE/DATABASE ... SET, else the value the catalog's session saw (with
// its unit).
func settingFor(in *catalog.Instance, login, db, name string) (value, where string, ok bool) {
	for _, kv := range in.LoginSettings(login, db) {
		if k, v, found := strings.Cut(kv, "="); found && strings.EqualFold(k, name) {
			value, ok = v, true
		}
	}
	if ok {
		return value, roleSettingOrigin, true
	}
	s, found := in.Settings[name]
	if !found {
		return "", "", false
	}
	return s.Setting + s.Unit, settingOrigin(s), true
}

// settingOrigin says in words where a pg_settings value comes from.
func settingOrigin(s catalog.Setting) string {
	switch s.Source {
	case "user", "database", "database user":
		return roleSettingOrigin
	case "configuration file":
		return "the server configuration"
	case "default":
		return "the default"
	}
	return s.Source
}

func isOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

func checkTargetReadOnly(in *Input, r *Reporter) {
	t := in.Target
	var problems []string
	if t.InRecovery {
		problems = append(problems, "the target is a standby in recovery (pg_is_in_recovery() is true) and cannot be written to: point the target at the primary server")
	}
	if s, ok := t.Settings["default_transaction_read_only"]; ok && isOn(s.Setting) {
		problems = append(problems, fmt.Sprintf("default_transaction_read_only is on for the target login %q (set in %s): turn it off on the target (ALTER SYSTEM, ALTER ROLE or ALTER DATABASE ... SET default_transaction_read_only = off, or the service's server parameters)",
			t.CurrentUser, settingOrigin(s)))
	} else if s, ok := t.Settings["transaction_read_only"]; ok && isOn(s.Setting) && !t.InRecovery {
		problems = append(problems, "the target's sessions are read-only (transaction_read_only is on): make the target writable")
	}
	for _, db := range in.Databases {
		if v, where, ok := settingFor(t, t.CurrentUser, db, "default_transaction_read_only"); ok && isOn(v) && where == roleSettingOrigin {
			if s := t.Settings["default_transaction_read_only"]; !isOn(s.Setting) {
				problems = append(problems, fmt.Sprintf("default_transaction_read_only is on in database %q on the target (ALTER DATABASE/ROLE ... SET): reset it", db))
			}
		}
	}
	if len(problems) > 0 {
		r.Report(Failed, "", strings.Join(problems, "; "))
		return
	}
	r.Report(Succeeded, "", "the target accepts writes")
}

// reservedPrefixes are role-name prefixes the target refuses for new roles: pg_ everywhere, and
// those of managed services, recognised by their built-in roles or settings.
func reservedPrefixes(t *catalog.Instance) []string {
	out := []string{"pg_"}
	_, azure := t.Settings["azure.extensions"]
	if azure || t.Role("azure_pg_admin") != nil || t.Role("azure_superuser") != nil {
		out = append(out, "azure_")
	}
	if t.Role("rds_superuser") != nil || t.Role("rdsadmin") != nil {
		out = append(out, "rds_")
	}
	if t.Role("cloudsqlsuperuser") != nil {
		out = append(out, "cloudsql")
	}
	return out
}

// roleAttrs spells a role's attributes as CREATE ROLE options.
func roleAttrs(ro catalog.Role) []string {
	flag := func(on bool, name string) string {
		if on {
			return name
		}
		return "NO" + name
	}
	out := []string{
		flag(ro.Superuser, "SUPERUSER"), flag(ro.Inherit, "INHERIT"), flag(ro.CreateRole, "CREATEROLE"),
		flag(ro.CreateDB, "CREATEDB"), flag(ro.Login, "LOGIN"), flag(ro.Replication, "REPLICATION"),
		flag(ro.BypassRLS, "BYPASSRLS"), "CONNECTION LIMIT " + strconv.Itoa(ro.ConnLimit),
	}
	if ro.ValidUntil != "" {
		out = append(out, "VALID UNTIL "+ro.ValidUntil)
	}
	return out
}

func checkRoleClashes(in *Input, r *Reporter) {
	if !in.Migration.Options.Roles {
		r.Report(Succeeded, "", "roles = false: no role is migrated, so none can clash")
		return
	}
	prefixes := reservedPrefixes(in.Target)
	var reserved []string
	clashes := 0
	for _, ro := range in.Source.Roles {
		tr := in.Target.Role(ro.Name)
		if tr == nil {
			for _, p := range prefixes {
				if strings.HasPrefix(strings.ToLower(ro.Name), p) {
					reserved = append(reserved, ro.Name)
					break
				}
			}
			continue
		}
		// A superuser stays one on a target where it is one; elsewhere strip_superuser applies.
		want := ro
		if want.Superuser && in.Migration.Options.StripSuperuser && !tr.Superuser {
			want.Superuser = false
		}
		src, tgt := roleAttrs(want), roleAttrs(*tr)
		var diff []string
		for k := range src {
			if k < len(tgt) && src[k] != tgt[k] {
				diff = append(diff, fmt.Sprintf("%s on the source, %s on the target", src[k], tgt[k]))
			}
		}
		if len(src) != len(tgt) {
			diff = append(diff, fmt.Sprintf("VALID UNTIL %q on the source, %q on the target", ro.ValidUntil, tr.ValidUntil))
		}
		if len(diff) == 0 {
			continue
		}
		clashes++
		if tr.Superuser || ro.Name == in.Target.CurrentUser {
			r.Report(Warning, "", fmt.Sprintf("role %q exists on the target with other attributes (%s); it is an administrator of the target and is left as it is: check that applications relying on %q still work",
				ro.Name, strings.Join(diff, "; "), ro.Name), ro.Name)
			continue
		}
		r.Report(Warning, "", fmt.Sprintf("role %q exists on the target with other attributes (%s): the plan alters it to match the source; rename one of them if they are different users",
			ro.Name, strings.Join(diff, "; ")), ro.Name)
	}
	if len(reserved) > 0 {
		r.Report(Failed, "", fmt.Sprintf("the target reserves role names starting with %s: rename these roles on the source (ALTER ROLE ... RENAME TO) or set roles = false",
			strings.Join(prefixes, ", ")), reserved...)
		return
	}
	if clashes == 0 {
		r.Report(Succeeded, "", "no source role clashes with a target role")
	}
}

func checkServerParameters(in *Input, r *Reporter) {
	apply := in.Migration.Options.ServerParameters == "apply"
	diffs, compared := catalog.CompareSettings(in.Source, in.Target)
	for _, d := range diffs {
		n, s, t := d.Name, d.Source, d.Target
		if d.Missing {
			r.Report(Warning, "", fmt.Sprintf("%s = %s on the source is not a parameter of the target (PostgreSQL %s): look up its replacement in the release notes",
				n, showSetting(s), in.Target.MajorString()), n)
			continue
		}
		restart := ""
		if t.Context == "postmaster" {
			restart = " and restart the target"
		}
		if apply {
			r.Report(Succeeded, "", fmt.Sprintf("%s is %s on the source and %s on the target: planned to be set on the target (server_parameters = \"apply\")%s",
				n, showSetting(s), showSetting(t), strings.Replace(restart, " and", "; then", 1)), n)
			continue
		}
		r.Report(Warning, "", fmt.Sprintf("%s is %s on the source and %s on the target: set it on the target (ALTER SYSTEM SET %s = '%s', or the service's server parameters)%s, or set server_parameters = \"apply\"",
			n, showSetting(s), showSetting(t), n, s.Setting, restart), n)
	}
	if len(diffs) == 0 {
		r.Report(Succeeded, "", fmt.Sprintf("the %d server parameters compared have the same value on both sides", compared))
	}
}

func showSetting(s catalog.Setting) string { return catalog.ShowSetting(s) }

// timeoutParameters are the timeouts that can end pgferry's sessions, with whether pgferry,
// pg_dump and pg_restore turn them off in their own sessions.
var timeoutParameters = []struct {
	name       string
	overridden bool
	why        string
}{
	{"statement_timeout", true, ""},
	{"lock_timeout", true, ""},
	{"idle_in_transaction_session_timeout", true, ""},
	{"idle_session_timeout", false, "it closes pgferry's connections while they wait for other work"},
	{"transaction_timeout", false, "it ends the transaction that holds the source snapshot for the whole copy, and long restores on the target"},
}

// nonZeroDuration reports whether a timeout setting is set: "0", "0ms", "0s" are not.
func nonZeroDuration(v string) bool {
	v = strings.TrimSpace(v)
	n := strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz ")
	f, err := strconv.ParseFloat(n, 64)
	return v != "" && (err != nil || f != 0)
}

func checkSessionTimeouts(in *Input, r *Reporter) {
	var warn, notes []string
	var objects []string
	for _, side := range []struct {
		name string
		in   *catalog.Instance
	}{{"source", in.Source}, {"target", in.Target}} {
		dbs := append([]string{""}, in.Databases...)
		for _, p := range timeoutParameters {
			if _, ok := side.in.Settings[p.name]; !ok {
				continue // not a parameter of that version
			}
			seen := map[string]bool{}
			for _, db := range dbs {
				v, where, ok := settingFor(side.in, side.in.CurrentUser, db, p.name)
				if !ok || !nonZeroDuration(v) {
					continue
				}
				key := v + "|" + where
				if seen[key] {
					continue
				}
				seen[key] = true
				at := fmt.Sprintf("%s = %s on the %s (from %s)", p.name, v, side.name, where)
				objects = append(objects, side.name+":"+p.name)
				if p.overridden {
					notes = append(notes, at)
					continue
				}
				warn = append(warn, fmt.Sprintf("%s: %s; set it to 0 for the %s login during the migration (ALTER ROLE %s SET %s = 0)",
					at, p.why, side.name, side.in.CurrentUser, p.name))
			}
		}
	}
	switch {
	case len(warn) > 0:
		r.Report(Warning, "", strings.Join(warn, "; "), objects...)
	case len(notes) > 0:
		r.Report(Succeeded, "", "note: "+strings.Join(notes, "; ")+": pgferry, pg_dump and pg_restore set it to 0 in their own sessions", objects...)
	default:
		r.Report(Succeeded, "", "no timeout can cut pgferry's sessions")
	}
}
