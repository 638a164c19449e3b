package pgdump

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Reading pg_restore's scripts as they are printed.
//
// A schema of tens of thousands of tables is a script of tens of megabytes. ScriptReader turns it
// into its chunks as pg_restore prints it: each entry's text is copied once, into the string of its
// chunk; the script itself is never held whole (nor a second copy of it, as splitting a buffer
// would).

// ScriptReader reads a verbose pg_restore script (-v -f -): its preamble (the session settings
// before the first entry), then one chunk per TOC entry, in the script's order, as SplitScript
// splits it.
type ScriptReader struct {
	r *bufio.Reader
	// stripMeta: psql meta-commands pg_restore prints (\restrict, \unrestrict, \connect) are left
	// out; a driver, not psql, runs the chunks.
	stripMeta bool
	// lean: each chunk's TOC comment and dependencies line are left out of its SQL (ReadScriptLean).
	lean    bool
	deps    []int  // the dependencies line of the chunk being read, when lean
	started bool   // the preamble was read
	next    []byte // the TOC line starting the next chunk (nil at the end)
	buf     []byte // the chunk being read, reused
	line    []byte // a line longer than the reader's buffer, reused
	err     error
}

// NewScriptReader reads a script from r. With stripMeta, the psql meta-command lines pg_restore
// prints (\restrict KEY, \unrestrict KEY, \connect ...) are left out of the preamble and chunks.
func NewScriptReader(r io.Reader, stripMeta bool) *ScriptReader {
	return &ScriptReader{r: bufio.NewReaderSize(r, 64<<10), stripMeta: stripMeta}
}

// readLine returns the next line with its newline (the last may lack it); the slice is valid until
// the next call. It returns io.EOF after the last line.
func (s *ScriptReader) readLine() ([]byte, error) {
	l, err := s.r.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(l) > 0) {
		return l, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	s.line = append(s.line[:0], l...)
	for {
		l, err = s.r.ReadSlice('\n')
		s.line = append(s.line, l...)
		switch {
		case err == nil || err == io.EOF:
			return s.line, nil
		case err != bufio.ErrBufferFull:
			return nil, err
		}
	}
}

// metaLine reports whether l is a psql meta-command pg_restore prints.
func metaLine(l []byte) bool {
	return bytes.HasPrefix(l, []byte(`\restrict `)) || bytes.HasPrefix(l, []byte(`\unrestrict `)) ||
		bytes.HasPrefix(l, []byte(`\connect `)) || bytes.HasPrefix(l, []byte("\\connect\n"))
}

// tocLine parses a line starting an entry, "-- TOC entry 215 (class 1259 OID 16385)", into the
// entry's dump ID.
func tocLine(l []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(bytes.TrimSuffix(l, []byte("\n")), []byte("-- TOC entry "))
	if !ok {
		return 0, false
	}
	id, rest, ok := bytes.Cut(rest, []byte(" (class "))
	if !ok || !digits(id) {
		return 0, false
	}
	class, oid, ok := bytes.Cut(rest, []byte(" OID "))
	if !ok || !digits(class) || !bytes.HasSuffix(oid, []byte(")")) || !digits(oid[:len(oid)-1]) {
		return 0, false
	}
	n, err := strconv.Atoi(string(id))
	return n, err == nil
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// scan reads lines into s.buf up to the next TOC line (kept in s.next) or the end of the script.
func (s *ScriptReader) scan() error {
	s.next = nil
	s.deps = nil
	header := s.lean // in the chunk's header (lean only: its dependencies line is taken out)
	for {
		l, err := s.readLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := tocLine(l); ok {
			s.next = append([]byte(nil), l...)
			return nil
		}
		if s.stripMeta && metaLine(l) {
			continue
		}
		if header {
			if header = bytes.HasPrefix(l, []byte("--")); header && bytes.HasPrefix(l, []byte("-- Dependencies: ")) && s.deps == nil {
				s.deps = headerDeps(string(l))
				if s.deps != nil {
					continue
				}
			}
		}
		s.buf = append(s.buf, l...)
	}
}

// Preamble returns what the script holds before its first entry.
func (s *ScriptReader) Preamble() (string, error) {
	if s.started {
		return "", errors.New("pgdump: the preamble was read already")
	}
	s.started = true
	s.buf = s.buf[:0]
	if err := s.scan(); err != nil {
		s.err = err
		return "", err
	}
	return string(s.buf), nil
}

// Next returns the next chunk; io.EOF after the last.
func (s *ScriptReader) Next() (Chunk, error) {
	if !s.started {
		if _, err := s.Preamble(); err != nil {
			return Chunk{}, err
		}
	}
	if s.err != nil {
		return Chunk{}, s.err
	}
	if s.next == nil {
		s.err = io.EOF
		return Chunk{}, io.EOF
	}
	id, _ := tocLine(s.next)
	s.buf = s.buf[:0]
	if !s.lean {
		s.buf = append(s.buf, s.next...)
	}
	if err := s.scan(); err != nil {
		s.err = err
		return Chunk{}, err
	}
	c := Chunk{DumpID: id, SQL: string(s.buf), Deps: s.deps}
	if !s.lean {
		c.Deps = headerDeps(c.SQL)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // a huge entry (a function's body): not kept for the next one
	}
	return c, nil
}

// headerDeps parses the "-- Dependencies: 1 2 3" line of a chunk's header.
func headerDeps(sql string) []int {
	header := sql[:HeaderLen(sql)]
	for header != "" {
		l, rest, _ := strings.Cut(header, "\n")
		header = rest
		f, ok := strings.CutPrefix(l, "-- Dependencies: ")
		if !ok {
			continue
		}
		var deps []int
		for _, w := range strings.Fields(f) {
			n, err := strconv.Atoi(w)
			if err != nil {
				return nil // not pg_restore's line: as the pattern of SplitScript, nothing
			}
			deps = append(deps, n)
		}
		return deps
	}
	return nil
}

// ReadScript reads a whole script from r with a ScriptReader: its preamble and chunks.
func ReadScript(r io.Reader, stripMeta bool) (preamble string, chunks []Chunk, err error) {
	return NewScriptReader(r, stripMeta).readAll()
}

// ReadScriptLean reads a whole script from r as ReadScript with stripMeta does, but leaves each
// chunk's TOC comment ("-- TOC entry ...") and dependencies line out of its SQL: they are the
// chunk's DumpID and Deps. What a run holds of a schema of tens of thousands of entries is some
// megabytes less; the server is sent the same statements (only comments are left out), and the
// chunk's header keeps its Name line (Chunk.Header).
func ReadScriptLean(r io.Reader) (preamble string, chunks []Chunk, err error) {
	s := NewScriptReader(r, true)
	s.lean = true
	return s.readAll()
}

// readAll reads the preamble and every chunk.
func (s *ScriptReader) readAll() (preamble string, chunks []Chunk, err error) {
	if preamble, err = s.Preamble(); err != nil {
		return "", nil, err
	}
	for {
		c, err := s.Next()
		if err == io.EOF {
			return preamble, chunks, nil
		}
		if err != nil {
			return "", nil, err
		}
		chunks = append(chunks, c)
	}
}

// Stream runs a tool with c's environment and hands its stdout to read as the tool prints it. When
// read fails, the tool is stopped and read's error returned; when the tool fails, the error
// carries its stderr, as Run's.
func Stream(parent context.Context, c Conn, bin string, read func(io.Reader) error, args ...string) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.Env()
	dieWithParent(cmd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return &RunError{Tool: filepath.Base(bin), Err: err}
	}
	rerr := read(out)
	if rerr != nil {
		cancel()
	}
	// What read left unread is drained, so that the tool does not block on a full pipe.
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case rerr != nil:
		return fmt.Errorf("reading %s's output: %w", filepath.Base(bin), rerr)
	case werr != nil:
		return &RunError{Tool: filepath.Base(bin), Err: werr, Stderr: stderr.String()}
	}
	return nil
}
