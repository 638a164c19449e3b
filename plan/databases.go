package plan

import (
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
)

// SelectDatabases resolves the migration's database list against the source.
func SelectDatabases(m *config.Migration, src *catalog.Instance) ([]string, error) {
	if len(m.Databases) == 1 && m.Databases[0] == "*" {
		dbs := src.UserDatabases()
		if len(dbs) == 0 {
			return nil, fmt.Errorf("the source %s has no user databases to migrate", m.Source.Label())
		}
		return dbs, nil
	}
	var missing []string
	for _, d := range m.Databases {
		info := src.Database(d)
		if info == nil {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("database %s not found on %s; available: %s", quoteList(missing), m.Source.Label(), strings.Join(src.UserDatabases(), ", "))
	}
	return append([]string(nil), m.Databases...), nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// FilterDatabase is the source database d as a migration with options o sees it: without the
// tables include_tables and exclude_tables leave out, nor anything of theirs (see
// catalog.Database.Filter). Without filters it is d.
func FilterDatabase(o config.Options, d *catalog.Database) *catalog.Database {
	if d == nil || !o.Filters() {
		return d
	}
	return d.Filter(o.IncludeMatch, o.ExcludeMatch)
}

func icuDetail(d *catalog.DatabaseInfo) string {
	if d.LocaleProvider == "icu" {
		return ", ICU locale " + d.ICULocale
	}
	return ""
}
