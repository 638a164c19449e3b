package plan

import (
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/state"
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

// dbPlanner plans one database: the planners of the objects in it are its methods, and its fields
// are what one kind's actions leave for the next.
type dbPlanner struct {
	*builder
	db       string
	sdb, tdb *catalog.Database
	// dbAction is the database's own action: nil for a database this migration is resuming.
	dbAction *Action
	// again is set for a finished database migrated again from scratch: the state's actions do
	// not count.
	again      bool
	schemaAddr string
	// dataDeps is what foreign keys and post-data wait for besides tables: the extension
	// configuration rows.
	dataDeps []string
	// copyAddrs maps a table's key to what waits for its rows: its copy, or all of its parts.
	copyAddrs map[string][]string
	// tableAddrs, indexAddrs and consAddrs are every table copy (or part), index and foreign key
	// of the database, planned or applied before.
	tableAddrs, indexAddrs, consAddrs []string
	// tableActions and tableDeps1 hold the tables' actions and their lists of one dependency.
	tableActions slab[Action]
	tableDeps1   slab[string]
}

// database plans database db and everything in it, in the order apply may start them.
func (b *builder) database(db string) error {
	sdb := FilterDatabase(b.in.Migration.Options, b.in.SourceDBs[db])
	if sdb == nil {
		return fmt.Errorf("internal error: no catalog for source database %q", db)
	}
	d := &dbPlanner{builder: b, db: db, sdb: sdb, tdb: b.in.TargetDBs[db], schemaAddr: PartAddr(db, TypeSchema), copyAddrs: map[string][]string{}}
	var ok bool
	if d.dbAction, d.again, ok = d.databaseAction(); !ok {
		return nil
	}
	if d.dbAction != nil {
		d.addDatabase()
	}
	d.schema(d.extensions())
	d.extensionData()
	d.tables()
	d.indexes()
	d.largeObjects()
	d.sequences()
	d.foreignKeysAndPostData()
	d.analyze()
	d.verify(d.ownership())
	return nil
}

// need reports whether the action at addr is to run: not applied by this migration before, or the
// database is migrated again.
func (d *dbPlanner) need(addr string) bool { return d.again || !d.applied(addr) }

// databaseAction decides what happens to the target database: created when missing, used when
// empty, replaced with overwrite_databases, or resumed (a nil action) when this migration created
// it. ok is false when nothing is planned for the database: finished and unchanged, or not empty
// and not the migration's (the validations say why and what to do). again is set for a finished
// database migrated again.
func (d *dbPlanner) databaseAction() (a *Action, again, ok bool) {
	in, db, sdb, tdb := d.in, d.db, d.sdb, d.tdb
	ours := in.State != nil && in.State.Action(DatabaseAddr(db)) != nil && in.State.Action(DatabaseAddr(db)).Status == state.ActionApplied
	dbAddr := DatabaseAddr(db)
	switch {
	case tdb == nil:
		return &Action{Address: dbAddr, Type: TypeDatabase, Kind: Create, Database: db, Reason: "database does not exist on the target"}, false, true
	case ours:
		// Created by this migration: resume, or confirm that it is complete.
		if !in.State.DatabaseComplete(db) {
			return nil, false, true
		}
		if catalog.SameObjects(sdb, tdb) {
			return nil, false, false
		}
		if !in.Migration.Options.OverwriteDatabases {
			return nil, false, false // a side changed since: the validation names what, and what to do
		}
		return &Action{Address: dbAddr, Type: TypeDatabase, Kind: Replace, Database: db,
			Reason:  "the source or the target changed since this migration copied the database (the target_database_empty validation names what), and overwrite_databases = true: migrated again",
			Hazards: []Hazard{{"DROPS_DATABASE", fmt.Sprintf("the target database %q and everything in it will be dropped", db)}}}, true, true
	case tdb.IsEmpty():
		return &Action{Address: dbAddr, Type: TypeDatabase, Kind: Update, Database: db, Reason: "database exists on the target and is empty; objects will be created in it"}, false, true
	case in.Migration.Options.OverwriteDatabases:
		return &Action{Address: dbAddr, Type: TypeDatabase, Kind: Replace, Database: db, Reason: "database exists on the target and overwrite_databases = true",
			Hazards: []Hazard{{"DROPS_DATABASE", fmt.Sprintf("the target database %q and everything in it will be dropped", db)}}}, false, true
	}
	// Not empty and not ours: the validation reports it; nothing is planned for it.
	return nil, false, false
}

// addDatabase completes the database's action (its size, owner, encoding and locale, and the role
// actions it waits for) and adds it.
func (d *dbPlanner) addDatabase() {
	// The database's size from its tables' and indexes' page counts, not pg_database_size,
	// which reads the size of every file of every database on each plan (slow at 100k tables).
	var sizes int64
	for _, t := range d.sdb.Tables {
		sizes += t.SizeBytes
	}
	for _, ix := range d.sdb.Indexes {
		sizes += ix.SizeBytes
	}
	a := d.dbAction
	a.BytesEstimate = sizes
	if info := d.in.Source.Database(d.db); info != nil {
		owner := info.Owner
		if to, ok := d.p.OwnerMap[owner]; ok {
			owner = fmt.Sprintf("%s (%s on the source)", to, info.Owner)
		}
		a.Details = []string{fmt.Sprintf("owner %s, encoding %s, locale %s/%s%s", owner, info.Encoding, info.Collate, info.Ctype, icuDetail(info))}
	}
	a.DependsOn = d.roleAddrs
	d.add(a)
}
