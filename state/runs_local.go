package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// runsDirName is the local backend's directory of a migration's runs, beside state.json: one
// gzipped JSON file per run, runs/000001.json.gz, runs/000002.json.gz, …
const (
	runsDirName = "runs"
	runSuffix   = ".json.gz"
)

func (l *Local) runsDir(migration string) string {
	return filepath.Join(l.migrationDir(migration), runsDirName)
}

func (l *Local) runPath(migration string, id int) string {
	return filepath.Join(l.runsDir(migration), fmt.Sprintf("%06d%s", id, runSuffix))
}

// runIDs lists the IDs of the migration's run files, ascending.
func (l *Local) runIDs(migration string) ([]int, error) {
	entries, err := os.ReadDir(l.runsDir(migration))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	var ids []int
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), runSuffix)
		if !ok || e.IsDir() {
			continue
		}
		if id, err := strconv.Atoi(name); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// AppendRun writes r as runs/NNNNNN.json.gz (the next ID) atomically: a temporary file, fsynced,
// renamed into place, the directory fsynced. The caller holds the migration's lock.
func (l *Local) AppendRun(ctx context.Context, migration string, r *Run) (int, error) {
	if err := checkMigrationName(migration); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dir := l.runsDir(migration)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("recording the run: %w", err)
	}
	ids, err := l.runIDs(migration)
	if err != nil {
		return 0, err
	}
	id := 1
	if len(ids) > 0 {
		id = ids[len(ids)-1] + 1
	}
	prepareRun(migration, id, r)
	if err := l.writeRun(migration, r); err != nil {
		return 0, err
	}
	// The runs before this one are read back (their summaries); this one is r.
	runs, err := l.summaries(ctx, migration, ids)
	if err != nil {
		return id, nil // the run is recorded; trimming waits for the next one
	}
	runs = append(runs, r.RunSummary)
	for _, old := range trimmable(runs) {
		full, err := l.Run(ctx, migration, old)
		if err != nil || full == nil {
			continue
		}
		full.Actions, full.Detailed = nil, false
		l.writeRun(migration, full)
	}
	return id, nil
}

func (l *Local) writeRun(migration string, r *Run) error {
	data, err := encodeRun(r)
	if err != nil {
		return fmt.Errorf("recording run %d: %w", r.ID, err)
	}
	dir, path := l.runsDir(migration), l.runPath(migration, r.ID)
	tmp := filepath.Join(dir, tempPrefix+filepath.Base(path)+"-"+New("").Lineage)
	if err := writeFileSync(tmp, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("recording run %d: %w", r.ID, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("recording run %d: %w", r.ID, err)
	}
	return syncDir(dir)
}

// Runs returns the summaries of the migration's runs, oldest first.
func (l *Local) Runs(ctx context.Context, migration string) ([]RunSummary, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	ids, err := l.runIDs(migration)
	if err != nil {
		return nil, err
	}
	return l.summaries(ctx, migration, ids)
}

// summaries reads the summaries of the runs of those IDs (a run file gone meanwhile is left out).
func (l *Local) summaries(ctx context.Context, migration string, ids []int) ([]RunSummary, error) {
	out := make([]RunSummary, 0, len(ids)+1)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := l.runPath(migration, id)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading run %d: %w", id, err)
		}
		r, err := decodeRunSummary("run file "+path, data)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// Run returns run id of the migration, or (nil, nil) when there is none.
func (l *Local) Run(ctx context.Context, migration string, id int) (*Run, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	path := l.runPath(migration, id)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading run %d: %w", id, err)
	}
	return decodeRun("run file "+path, data)
}
