package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"sync"

	"github.com/pgferry/pgferry/internal/pgver"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgdump"
)

// sourceDump is where a database's run starts: a snapshot exported on the source and kept alive by
// holder's open transaction, the schema pg_dump dumped from that snapshot, and the source catalog
// read inside it.
type sourceDump struct {
	holder   *pgx.Conn
	snapshot string
	dir      string // temporary directory holding the archive
	dump     string // the archive (custom format, pre-data and post-data)
	roles    bool   // options.roles: owners and privileges are restored
	// byID holds the archive's entries (pg_restore --create --list) by dump ID: in no order (the list's
	// order is the scripts'), and held once, as tocEntry (at 20,000 tables, 60,000 entries).
	byID     map[int]tocEntry
	dbItems  []pgdump.Entry // DATABASE, DATABASE PROPERTIES and their ACL/COMMENT (pg_restore -C --list)
	preamble string
	// matviewData marks the post-data chunks that refresh a materialized view.
	matviewData map[int]bool
	chunks      []pgdump.Chunk    // post-data script, one chunk per entry
	byOID       map[[2]uint32]int // (catalog, oid) → chunk index
	// Pre-data as a script (streamed into a database this migration created, see schema.go),
	// without the entries the extension actions run (extensions).
	prePreamble string
	preChunks   []pgdump.Chunk
	// extensions maps an extension's OID to pg_dump's entries that create it (pre-data leaves
	// them out).
	extensions map[uint32]*extensionEntries
	// ownersRewritten is set once rewriteOwners mapped the chunks' owners.
	ownersRewritten bool
	// readCatalog waits for the source catalog, read on holder's connection while pg_dump runs.
	readCatalog func() (*catalog.Database, error)
	// schemaOnly: pg_dump runs with --schema-only, not --section=pre-data --section=post-data.
	// The archive is the same when the database has no materialized view (their REFRESH entries
	// come from table data) and no large object (before 17 their metadata is in pre-data, which
	// -s leaves out), and pg_dump is older than 18 (statistics); pg_dump then holds no table data
	// entry in memory: 13 MB less at 20,000 tables (148 -> 135 MiB peak RSS, pg_dump 15).
	schemaOnly bool
	// onDumped, when not nil, is called once pg_dump and the catalog read have both ended well,
	// before the archive is read back (pg_restore, on this machine only): Prefetch.Dumped.
	onDumped func()
	// createScript is pg_restore's script of the database's own entries (dbItems), printed once
	// the archive is read (createDatabase's, prepared before the run when prefetched); nil when
	// it could not be: createDatabase then prints it itself.
	createScript []byte
}

// openSource exports a snapshot of database db on the source (of version sourceNum,
// server_version_num), dumps its schema from that snapshot with pg_dump, and reads its catalog inside
// the snapshot, the two at once. The archive is kept in a new directory under tmpDir ("":
// os.TempDir()). The caller closes it.
func openSource(ctx context.Context, m *config.Migration, tools *pgdump.Tools, db string, sourceNum pgver.V, floatDg int, tmpDir string) (*sourceDump, error) {
	s, err := exportSource(ctx, m, db, sourceNum, floatDg, tmpDir, nil)
	if err != nil {
		return nil, err
	}
	return s.dumped(ctx, m, tools, db)
}

// exportSource is openSource up to the dump: the snapshot exported, the catalog read started. It
// exports on holder, an idle session to db on the source that it takes (closes), when there is one.
func exportSource(ctx context.Context, m *config.Migration, db string, sourceNum pgver.V, floatDg int, tmpDir string, holder *pgx.Conn) (s *sourceDump, err error) {
	s = &sourceDump{roles: m.Options.Roles, holder: holder}
	defer func() {
		if err != nil {
			s.close()
			s = nil
		}
	}()
	if s.dir, err = os.MkdirTemp(tmpDir, "pgferry-dump-"); err != nil {
		return s, err
	}
	if s.holder == nil {
		if s.holder, err = pgconn.ConnectOneShot(ctx, m.Source, db); err != nil {
			return s, err
		}
	}
	if err := pgconn.SessionSettings(ctx, s.holder, floatDg); err != nil {
		return s, err
	}
	if _, err := s.holder.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return s, err
	}
	if err := s.holder.QueryRow(ctx, `SELECT pg_export_snapshot(), NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE relkind = 'm')
		AND NOT EXISTS (SELECT FROM pg_catalog.pg_largeobject_metadata)`).Scan(&s.snapshot, &s.schemaOnly); err != nil {
		return s, fmt.Errorf("exporting a snapshot on the source: %w", err)
	}
	// The catalog is read while pg_dump dumps the schema, in its snapshot, on sessions of its own
	// (the plan of an apply without a prompt is made from the same read: Prefetch.Catalog).
	read := make(chan struct{})
	var src *catalog.Database
	var readErr error
	go func() {
		defer close(read)
		defer trace.StartRegion(ctx, "snapshot catalog read").End()
		src, readErr = catalog.ReadDatabaseInSnapshot(ctx, pgconn.Opener(m.Source, db), snapshotCatalogConns, db, sourceNum,
			s.snapshot, m.Options.Filters())
		if readErr == nil {
			compactCatalog(src) // held for the whole run
		}
	}()
	s.readCatalog = sync.OnceValues(func() (*catalog.Database, error) {
		<-read
		return src, readErr
	})
	return s, nil
}

// snapshotCatalogConns is how many sessions read a large database's catalog in the snapshot.
const snapshotCatalogConns = 4

// dumped is openSource's dump of the schema; on an error it closes s.
func (s *sourceDump) dumped(ctx context.Context, m *config.Migration, tools *pgdump.Tools, db string) (*sourceDump, error) {
	if err := s.dumpSchema(ctx, m, tools, db); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// tocEntry is what a run keeps of an archive entry (pgdump.Entry) in sourceDump.byID: its
// catalog, OID and description, without the line it was read from (a run of tens of thousands of
// entries holds each line's text once otherwise, and a description cut from it keeps it whole).
type tocEntry struct {
	TableOID uint32 // catalog of the object: 1259 pg_class, 2606 pg_constraint, ...
	OID      uint32
	Desc     string // TABLE, INDEX, CONSTRAINT, FK CONSTRAINT, ... (one copy of each shared)
}

// close waits for the catalog read (it uses the holder's connection), ends the snapshot and removes
// the archive. It may be called on a partly opened sourceDump.
func (s *sourceDump) close() {
	if s.readCatalog != nil {
		s.readCatalog()
	}
	if s.holder != nil {
		s.holder.Close(context.Background())
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func (s *sourceDump) dumpSchema(ctx context.Context, m *config.Migration, tools *pgdump.Tools, db string) error {
	s.dump = filepath.Join(s.dir, "schema.dump")
	sections := []string{"--section=pre-data", "--section=post-data"}
	if s.schemaOnly && tools.Release.Before(18) {
		sections = []string{"--schema-only"}
	}
	pgDump := trace.StartRegion(ctx, "pg_dump")
	_, err := pgdump.Run(ctx, pgconn.ToolConn(m.Source, db), tools.PgDump, append([]string{"--format=custom"}, append(sections,
		"--create", "--no-tablespaces", "--snapshot="+s.snapshot, "--file="+s.dump)...)...)
	pgDump.End()
	if err != nil {
		return err
	}
	if s.onDumped != nil {
		if _, err := s.readCatalog(); err == nil {
			s.onDumped()
		}
	}
	// Three reads of the same archive, at once: the object list with the database's own entries
	// (--create: the list without it differs only by leaving them out; no script chunk refers to
	// them), and the post-data and pre-data scripts, each parsed as pg_restore prints it (never
	// held whole: at tens of thousands of tables, they are tens of megabytes).
	s.byID = map[int]tocEntry{}
	descs := interner{} // each description once
	reads := []struct {
		args []string
		read func(io.Reader) error
	}{
		{[]string{"--create", "--list", s.dump}, func(r io.Reader) error {
			return pgdump.ScanList(r, func(e pgdump.Entry) {
				s.byID[e.DumpID] = tocEntry{TableOID: e.TableOID, OID: e.OID, Desc: descs.of(e.Desc)}
				if e.Desc == "DATABASE" || e.Desc == "DATABASE PROPERTIES" ||
					((e.Desc == "ACL" || e.Desc == "COMMENT" || e.Desc == "SECURITY LABEL") && strings.HasPrefix(e.Rest, "- DATABASE ")) {
					s.dbItems = append(s.dbItems, e)
				}
			})
		}},
		{append([]string{"--section=post-data", "--verbose", "--file=-"}, s.restoreFlags()...), func(r io.Reader) (err error) {
			s.preamble, s.chunks, err = pgdump.ReadScriptLean(r)
			return err
		}},
		{append([]string{"--section=pre-data", "--verbose", "--file=-"}, s.restoreFlags()...), func(r io.Reader) (err error) {
			s.prePreamble, s.preChunks, err = pgdump.ReadScriptLean(r)
			return err
		}},
	}
	defer trace.StartRegion(ctx, "pg_restore reads").End()
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, rd := range reads {
		wg.Go(func() { errs[i] = pgdump.Stream(ctx, pgdump.Conn{}, tools.PgRestore, rd.read, rd.args...) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	s.createScript = s.databaseScript(ctx, tools)
	s.splitExtensions(s.byID) // once: it takes the extensions' entries out of preChunks
	s.schemaPrivilegesFirst()
	s.preChunks, s.chunks = exact(s.preChunks), exact(s.chunks) // held for the whole run
	s.index()
	return nil
}

// databaseScript prints the script that creates the database from its own entries (dbItems) with
// pg_restore --create, as createDatabase runs it; nil when that fails (createDatabase tries again
// and reports why).
func (s *sourceDump) databaseScript(ctx context.Context, tools *pgdump.Tools) []byte {
	list := filepath.Join(s.dir, "database.list")
	if err := pgdump.WriteList(list, s.dbItems); err != nil {
		return nil
	}
	args := append([]string{"--create", "--verbose", "--use-list=" + list, "--file=-"}, s.restoreFlags()...)
	script, err := pgdump.Run(ctx, pgdump.Conn{}, tools.PgRestore, args...)
	if err != nil {
		return nil
	}
	return script
}

// index maps the post-data chunks by the object they create, and marks those refreshing a
// materialized view.
func (s *sourceDump) index() {
	s.byOID, s.matviewData = map[[2]uint32]int{}, map[int]bool{}
	for k, c := range s.chunks {
		e, ok := s.byID[c.DumpID]
		if ok && e.OID != 0 {
			s.byOID[[2]uint32{e.TableOID, e.OID}] = k
		}
		if ok && e.Desc == "MATERIALIZED VIEW DATA" {
			s.matviewData[k] = true
		}
	}
}

// filter drops from the dump's scripts what the table filters leave out: src is the source
// catalog as read, sel the same as the filters select it (plan.FilterDatabase). Dropped are the
// entries of the tables left out, and every entry depending on a dropped one (indexes, constraints
// and defaults, triggers, rules, policies, row security, statistics, partition and index
// attachments, publication memberships, comments, privileges, security labels), foreign keys of
// selected tables referencing them, and their identity sequences; a sequence a serial column of
// theirs owns is kept without its OWNED BY, as pg_dump --exclude-table keeps it. The checks have
// failed the plan when anything else (a view, a function) depends on them. It returns how many
// entries were dropped; it is idempotent.
func (s *sourceDump) filter(src, sel *catalog.Database) int {
	if len(sel.Excluded) == 0 {
		return 0
	}
	excluded := map[string]bool{}
	for _, k := range sel.Excluded {
		excluded[k] = true
	}
	objs := map[[2]uint32]bool{} // (catalog, OID) of the objects dropped
	tableOIDs := map[uint32]bool{}
	for _, t := range src.Tables {
		if excluded[t.Key()] {
			objs[[2]uint32{1259, t.OID}] = true
			tableOIDs[t.OID] = true
		}
	}
	keep := map[[2]uint32]bool{}
	for _, ix := range sel.Indexes {
		keep[[2]uint32{1259, ix.OID}] = true
	}
	for _, ix := range src.Indexes {
		if !keep[[2]uint32{1259, ix.OID}] {
			objs[[2]uint32{1259, ix.OID}] = true
			if ix.ConstraintOID != 0 {
				objs[[2]uint32{2606, ix.ConstraintOID}] = true
			}
		}
	}
	for _, c := range sel.Constraints {
		keep[[2]uint32{2606, c.OID}] = true
	}
	for _, c := range src.Constraints {
		if !keep[[2]uint32{2606, c.OID}] {
			objs[[2]uint32{2606, c.OID}] = true
		}
	}
	ownedSeqs := map[uint32]bool{} // serial sequences of tables left out: kept, not their OWNED BY
	for _, q := range src.Sequences {
		if excluded[catalog.SequenceTable(q.OwnedBy)] {
			if q.Identity {
				objs[[2]uint32{1259, q.OID}] = true
			} else {
				ownedSeqs[q.OID] = true
			}
		}
	}
	byID := s.byID
	drop := map[int]bool{}
	for id, e := range s.byID {
		if objs[[2]uint32{e.TableOID, e.OID}] || (e.Desc == "ROW SECURITY" && tableOIDs[e.OID]) {
			drop[id] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, chunks := range [][]pgdump.Chunk{s.preChunks, s.chunks} {
			for _, c := range chunks {
				if drop[c.DumpID] {
					continue
				}
				e := byID[c.DumpID]
				for _, dep := range c.Deps {
					if (drop[dep] && e.Desc != "SEQUENCE") || (e.Desc == "SEQUENCE OWNED BY" && ownedSeqs[byID[dep].OID]) {
						drop[c.DumpID], changed = true, true
						break
					}
				}
			}
		}
	}
	n := 0
	without := func(chunks []pgdump.Chunk) []pgdump.Chunk {
		var out []pgdump.Chunk
		for _, c := range chunks {
			if drop[c.DumpID] {
				n++
				continue
			}
			out = append(out, c)
		}
		return out
	}
	s.preChunks, s.chunks = without(s.preChunks), without(s.chunks)
	s.index()
	return n
}

// extensionEntries are the pre-data entries of one extension, as pg_restore prints them: the
// CREATE SCHEMA of the schema it is installed in (when pg_dump dumps one), its CREATE EXTENSION,
// and its comment and security labels.
type extensionEntries struct {
	schema   []pgdump.Chunk
	create   pgdump.Chunk
	comments []pgdump.Chunk
}

// splitExtensions takes the extensions' entries out of pre-data, into extensions: each EXTENSION
// entry, the COMMENT and SECURITY LABEL entries that depend on it alone, and the SCHEMA entries
// it depends on (the schema it is installed in, which an extension action may have to create
// first). The extension actions run them before pre-data.
func (s *sourceDump) splitExtensions(byID map[int]tocEntry) {
	s.extensions = map[uint32]*extensionEntries{}
	taken := map[int]bool{} // the entries the extension actions run
	chunkOf := map[int]pgdump.Chunk{}
	extOf := map[int]*extensionEntries{} // EXTENSION dump ID → its entries
	for _, c := range s.preChunks {
		chunkOf[c.DumpID] = c
		if e := byID[c.DumpID]; e.Desc == "EXTENSION" {
			x := &extensionEntries{create: c}
			s.extensions[e.OID], extOf[c.DumpID] = x, x
			taken[c.DumpID] = true
		}
	}
	for _, c := range s.preChunks {
		deps := c.Deps
		switch e := byID[c.DumpID]; {
		case e.Desc == "EXTENSION":
			x := extOf[c.DumpID]
			for _, d := range deps {
				if byID[d].Desc == "SCHEMA" {
					if sc, ok := chunkOf[d]; ok {
						x.schema = append(x.schema, sc)
						taken[d] = true
					}
				}
			}
		case (e.Desc == "COMMENT" || e.Desc == "SECURITY LABEL") && len(deps) == 1 && extOf[deps[0]] != nil:
			x := extOf[deps[0]]
			x.comments = append(x.comments, c)
			taken[c.DumpID] = true
		}
	}
	kept := s.preChunks[:0:0]
	for _, c := range s.preChunks {
		if !taken[c.DumpID] {
			kept = append(kept, c)
		}
	}
	s.preChunks = kept
}

// restoreFlags are the pg_restore flags every call shares, then the archive.
func (s *sourceDump) restoreFlags() []string {
	f := []string{"--no-tablespaces"}
	if !s.roles {
		f = append(f, "--no-owner", "--no-privileges")
	}
	return append(f, s.dump)
}

// Prefetch opens the source of one database (snapshot, pg_dump, catalog: what its apply does first)
// while the caller is still planning. Run takes it when it comes to that database on its first
// attempt; Close releases it when nobody took it. apply starts one only once the plan needs no
// approval (--auto-approve, or a saved plan): the snapshot is then used at once.
type Prefetch struct {
	db     string
	cancel context.CancelFunc
	done   chan struct{}
	src    *sourceDump
	err    error
	mu     sync.Mutex
	taken  bool

	// settled is closed once the source's catalog read, which outlasts the dump at tens of
	// thousands of tables, is done too (Done).
	settled chan struct{}
	// dumped is closed once pg_dump and the catalog read no longer load the source, or the
	// prefetch ended (Dumped).
	dumped chan struct{}
	// exported is closed once the snapshot is exported and readCatalog set (nil when that failed).
	exported    chan struct{}
	readCatalog func() (*catalog.Database, error)
}

// StartPrefetch starts opening database db's source in the background: sourceNum and floatDg as
// Run will use them (the source's server_version_num; FloatDigits), and tmpDir as Options.TempDir.
// holder, when not nil, is an idle session to db on the source (one that counted its relations)
// that it takes to export the snapshot on: an authentication less before pg_dump starts.
func StartPrefetch(ctx context.Context, m *config.Migration, tools *pgdump.Tools, db string, sourceNum pgver.V, floatDg int, tmpDir string, holder *pgx.Conn) *Prefetch {
	ctx, cancel := context.WithCancel(ctx)
	p := &Prefetch{db: db, cancel: cancel, done: make(chan struct{}), settled: make(chan struct{}),
		exported: make(chan struct{}), dumped: make(chan struct{})}
	closeDumped := sync.OnceFunc(func() { close(p.dumped) })
	go func() {
		defer close(p.done)
		defer closeDumped()
		dump := trace.StartRegion(ctx, "schema dump")
		defer dump.End()
		src, err := exportSource(ctx, m, db, sourceNum, floatDg, tmpDir, holder)
		if err == nil {
			p.readCatalog = src.readCatalog
			src.onDumped = closeDumped
		}
		close(p.exported)
		if err == nil {
			src, err = src.dumped(ctx, m, tools, db)
		}
		p.src, p.err = src, err
		go func() {
			defer close(p.settled)
			if src != nil {
				src.readCatalog() // once: Run's call gets the same result
			}
		}()
	}()
	return p
}

// Done is closed once the prefetch has opened its source (snapshot, schema dump, the catalog read
// beside it, the archive read back) or failed to: the run starts after it. A nil Prefetch's is
// closed.
func (p *Prefetch) Done() <-chan struct{} {
	if p == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.settled
}

// Dumped is closed once the prefetch no longer loads the servers: pg_dump has ended and the
// catalog read beside it too (or the prefetch failed), while what remains of Done, reading the
// archive back with pg_restore, runs on this machine only. The forecast's probe waits for it, not
// for Done: the archive is read back while the probe measures the servers (0.1-0.5 s of a small
// database's plan, more under load). A nil Prefetch's is closed.
func (p *Prefetch) Dumped() <-chan struct{} {
	if p == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.dumped
}

// Catalog waits for the source catalog the prefetch reads in its snapshot (compacted, as the run
// holds it) and returns it: the plan of the apply that takes the prefetch is made from it, so that
// the plan and the run see the same catalog, read once. The catalog is shared: nobody changes it.
// It is an error when the snapshot could not be exported.
func (p *Prefetch) Catalog() (*catalog.Database, error) {
	<-p.exported
	p.mu.Lock()
	read := p.readCatalog
	p.mu.Unlock()
	if read == nil {
		<-p.done
		if p.err == nil {
			return nil, errors.New("the prefetched source was taken by the run")
		}
		return nil, p.err
	}
	return read()
}

// take hands the prefetched source of db over to the caller, waiting for it, once; ok is false when
// the prefetch is for another database or was taken already.
func (p *Prefetch) take(db string) (s *sourceDump, ok bool, err error) {
	if p == nil || p.db != db {
		return nil, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken {
		return nil, false, nil
	}
	p.taken = true
	<-p.done
	// The run holds the source from here, and lets it go when it is done with the database: the
	// prefetch keeps nothing of it (at 20,000 tables its catalog and scripts are ~45 MB, which
	// were otherwise held to the end of the command, where the run is recorded).
	s, err = p.src, p.err
	p.src, p.readCatalog = nil, nil
	return s, true, err
}

// Close stops the prefetch and releases what it opened, unless Run took it (call it after Run).
func (p *Prefetch) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancel()
	if p.taken {
		return
	}
	p.taken = true
	<-p.done
	if p.src != nil {
		p.src.close()
	}
}

// FloatDigits is the extra_float_digits sessions use for servers of these versions (server_version_num):
// 3 where both are 12 or later (shortest exact output), else 0.
func FloatDigits(sourceNum, targetNum pgver.V) int {
	if sourceNum.Before(12) || targetNum.Before(12) {
		return 0
	}
	return 3
}

// dumpStatistics starts pg_dump dumping the planner statistics of the database in the source's
// snapshot (pgdump.StatisticsArgs) into the archive's directory, in the background: the copies
// run meanwhile, and only the analyze action needs them. The function returned waits for it and
// returns the script's path.
func (d *dbRun) dumpStatistics(ctx context.Context) func() (string, error) {
	file := filepath.Join(d.dir, "statistics.sql")
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		_, err = pgdump.Run(ctx, pgconn.ToolConn(d.r.m.Source, d.db), d.r.opt.Tools.PgDump, pgdump.StatisticsArgs(d.snapshot, file)...)
	}()
	return func() (string, error) {
		<-done
		return file, err
	}
}
