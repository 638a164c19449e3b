package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// appendJournal appends p's record to the migration's journal and makes it durable; the first
// record after a compaction starts a new journal.
func (l *Local) appendJournal(dir string, tr *tracker, p pending) error {
	jpath := filepath.Join(dir, journalFileName)
	// The record is written as its frame's prefix, its encoding and a newline, encoded as it is
	// written (pending): at tens of thousands of tables one record is megabytes (the actions a
	// schema action held back), which was held encoded beside everything else the apply holds.
	var head []byte
	fresh := tr.journalBytes == 0
	if fresh {
		h, err := json.Marshal(journalHeader{Journal: 1, Lineage: tr.lineage, Base: tr.base})
		if err != nil {
			return err
		}
		head = append(h, '\n')
	}
	head = append(head, framePrefix(p.crc)...)
	flags := os.O_WRONLY | os.O_APPEND
	if fresh {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(jpath, flags, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	w.Write(head)
	err = p.writeTo(w)
	w.WriteByte('\n')
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && fresh {
		err = syncDir(dir)
	}
	if err != nil {
		return err
	}
	written := int64(len(head)) + p.size + 1
	p.next.journalBytes = tr.journalBytes + written
	return nil
}

// writtenFile is what Write needs of a state file it wrote itself (and of its journal), and how
// to tell that the files are still those.
type writtenFile struct {
	info    fs.FileInfo
	journal fs.FileInfo // nil: no journal
	tracker *tracker
}

// writtenFiles maps a state file's path to the writtenFile this process last wrote there.
var writtenFiles sync.Map

func rememberWritten(path, jpath string, t *tracker) {
	fi, err := os.Stat(path)
	if err != nil || t == nil {
		writtenFiles.Delete(path)
		return
	}
	w := writtenFile{info: fi, tracker: t}
	if t.journalBytes > 0 {
		if w.journal, err = os.Stat(jpath); err != nil {
			writtenFiles.Delete(path)
			return
		}
	}
	writtenFiles.Store(path, w)
}

// lastWritten returns the lineage and serial of the state at path, and what this process knows of
// it, when its files are still those this process wrote last.
func lastWritten(path, jpath string) (*State, *tracker, bool) {
	v, ok := writtenFiles.Load(path)
	if !ok {
		return nil, nil, false
	}
	w := v.(writtenFile)
	same := func(fi, was fs.FileInfo) bool {
		return os.SameFile(fi, was) && fi.Size() == was.Size() && fi.ModTime().Equal(was.ModTime())
	}
	fi, err := os.Stat(path)
	ok = err == nil && same(fi, w.info)
	if ok {
		jfi, err := os.Stat(jpath)
		if w.journal == nil {
			ok = errors.Is(err, fs.ErrNotExist) || (err == nil && w.tracker.journalBytes == 0)
		} else {
			ok = err == nil && same(jfi, w.journal)
		}
	}
	if !ok {
		writtenFiles.Delete(path)
		return nil, nil, false
	}
	t := w.tracker
	return &State{FormatVersion: FormatVersion, Migration: "", Lineage: t.lineage, Serial: t.serial}, t, true
}
