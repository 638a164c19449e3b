package state

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"time"
)

// The journal: a running apply finishes thousands of actions and confirms them a few at a time,
// each confirmation a durable state write. Rewriting the whole document each time (18 MB at 20,000
// tables) made the writes the apply's main cost, so while a migration is In progress both
// backends append only what changed since the last write — a journal record: the actions whose
// content changed, and the rest of the document (the head) when that changed — and fold the
// journal into the document ("compaction") once the journal has grown as large as the document,
// when the state leaves In progress (the apply's last write), or whenever the stored state is not
// the one this process wrote (another writer, a new process, a different document). Readers
// replay the journal on the document, so every reader sees what was written, and a record whose
// write did not complete (a kill -9 in the middle of it) is ignored: it was never confirmed.
//
// A record only ever adds to the document or replaces parts of it; a write that removes actions
// or reorders them is a compaction.

// journalRecord is one write's changes. Head is the document without its actions, serial and
// updated_at (nil: unchanged); Actions replace the stored ones of their address, or are appended.
type journalRecord struct {
	Serial    int64           `json:"serial"`
	UpdatedAt *time.Time      `json:"updated_at,omitempty"`
	Head      json.RawMessage `json:"head,omitempty"`
	Actions   []*Action       `json:"actions,omitempty"`
}

// journalMinBytes: below this size a journal is never compacted for its size (a small state is
// cheap to rewrite, and its journal is short).
const journalMinBytes = 256 << 10

// tracker is what a backend knows of the state it stored last: enough to tell which parts of a
// State changed since, without keeping a copy of it.
type tracker struct {
	lineage string
	serial  int64 // of the last write
	base    int64 // the serial of the compacted document the journal applies to
	head    headSum
	sums    []uint64 // actionSum of the stored actions, by index
	addrs   []string // of the stored actions, by index
	// spare is the sums of the tracker before, which diff reuses for the next's: once this
	// tracker replaced it, nothing reads them.
	spare []uint64
	// docBytes is the size of the compacted document; journalBytes of the journal after it.
	docBytes, journalBytes int64
}

// newTracker describes s as just compacted into a document of docBytes.
func newTracker(s *State, docBytes int64) (*tracker, error) {
	head, _, err := (*tracker)(nil).sumHead(s)
	if err != nil {
		return nil, err
	}
	t := &tracker{lineage: s.Lineage, serial: s.Serial, base: s.Serial, head: head, docBytes: docBytes,
		sums: make([]uint64, len(s.Actions)), addrs: make([]string, len(s.Actions))}
	var m summer
	for i, a := range s.Actions {
		if a == nil {
			return nil, nil // a record cannot replace it: the next write compacts
		}
		t.sums[i], t.addrs[i] = m.sum(a), a.Address
	}
	return t, nil
}

// pending is a journal record about to be written, and the tracker once it is. The record is not
// held encoded: at tens of thousands of tables one record is megabytes (the actions a schema
// action held back, confirmed together), and json.Marshal held it twice over (its growing buffer,
// then the copy it returns) beside everything else the apply holds. It is encoded as it is written
// (writeTo), once before to learn its size and checksum.
type pending struct {
	rec  journalRecord
	size int64  // of its encoding
	crc  uint32 // of its encoding (the local journal's frame)
	next *tracker
}

// writeTo writes the record's encoding: the bytes json.Marshal(&p.rec) returns.
func (p *pending) writeTo(w io.Writer) error { return p.rec.encode(w) }

// encode writes rec as json.Marshal would, one action at a time.
func (rec *journalRecord) encode(w io.Writer) error {
	e := recordEncoder{w: w}
	e.enc = json.NewEncoder(&e.buf) // escapes as json.Marshal does
	e.raw(fmt.Appendf(nil, `{"serial":%d`, rec.Serial))
	if rec.UpdatedAt != nil {
		e.raw([]byte(`,"updated_at":`))
		e.value(rec.UpdatedAt)
	}
	if rec.Head != nil {
		e.raw([]byte(`,"head":`))
		e.value(rec.Head)
	}
	if len(rec.Actions) > 0 {
		e.raw([]byte(`,"actions":[`))
		for i, a := range rec.Actions {
			if i > 0 {
				e.raw([]byte{','})
			}
			e.action(a)
		}
		e.raw([]byte{']'})
	}
	e.raw([]byte{'}'})
	return e.err
}

// recordEncoder writes a record's parts to w, keeping the first error.
type recordEncoder struct {
	w   io.Writer
	buf bytes.Buffer // one value's encoding, reused
	enc *json.Encoder
	act []byte // one action's encoding, reused
	err error
}

func (e *recordEncoder) action(a *Action) {
	if e.err == nil {
		if e.act, e.err = appendAction(e.act[:0], a, "", ""); e.err == nil {
			e.raw(e.act)
		}
	}
}

func (e *recordEncoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *recordEncoder) value(v any) {
	if e.err != nil {
		return
	}
	e.buf.Reset()
	if e.err = e.enc.Encode(v); e.err == nil {
		e.raw(bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})) // Encode ends each value with a newline
	}
}

// sizer counts what is written and checksums it as the local journal frames it.
type sizer struct {
	n   int64
	crc uint32
}

func (z *sizer) Write(b []byte) (int, error) {
	z.n += int64(len(b))
	z.crc = crc32.Update(z.crc, crcTable, b)
	return len(b), nil
}

// diff returns the record taking the stored state to s (s's Serial and UpdatedAt already set by
// prepareWrite), or ok false when s cannot be reached by a record (actions removed or reordered)
// or the journal is due for compaction.
func (t *tracker) diff(s *State) (p pending, ok bool, err error) {
	if t == nil || s.Lineage != t.lineage || len(s.Actions) < len(t.addrs) {
		return pending{}, false, nil
	}
	rec := journalRecord{Serial: s.Serial, UpdatedAt: s.UpdatedAt}
	head, encoded, err := t.sumHead(s)
	if err != nil {
		return pending{}, false, err
	}
	if head.rest != t.head.rest || head.run != t.head.run {
		if rec.Head, err = encoded(); err != nil {
			return pending{}, false, err
		}
	}
	// An action replaced by one of another address, or an appended one whose address is already
	// stored, cannot be expressed as an upsert: that is a compaction.
	// The sums go into the slice the tracker before t used (t.spare): a write allocates none. t's
	// own sums stay as they are, should this write fail.
	var sums []uint64
	if cap(t.spare) >= len(s.Actions) {
		sums = t.spare[:len(s.Actions)]
	} else {
		sums = make([]uint64, len(s.Actions), len(s.Actions)+len(s.Actions)/8)
	}
	var m summer
	for i, a := range s.Actions {
		if a == nil {
			return pending{}, false, nil
		}
		sums[i] = m.sum(a)
		switch {
		case i < len(t.addrs) && a.Address != t.addrs[i]: // same string: compared by its pointer
			return pending{}, false, nil
		case i < len(t.addrs) && sums[i] == t.sums[i]:
			continue
		case i >= len(t.addrs) && s.find(a.Address) != i:
			return pending{}, false, nil
		}
		rec.Actions = append(rec.Actions, a)
	}
	var z sizer
	if err := rec.encode(&z); err != nil {
		return pending{}, false, fmt.Errorf("encoding state of migration %q: %w", s.Migration, err)
	}
	framed := z.n + 10
	if t.journalBytes+framed > max(t.docBytes, journalMinBytes) {
		return pending{}, false, nil
	}
	next := *t
	next.serial, next.head, next.sums, next.spare = s.Serial, head, sums, t.sums
	if len(s.Actions) > len(t.addrs) {
		next.addrs = make([]string, len(s.Actions))
		copy(next.addrs, t.addrs)
		for i := len(t.addrs); i < len(s.Actions); i++ {
			next.addrs[i] = s.Actions[i].Address
		}
	}
	next.journalBytes += framed
	return pending{rec: rec, size: z.n, crc: z.crc, next: &next}, true, nil
}

// headSum is what a tracker keeps of the head it stored (the state without its actions and the
// fields every write changes, serial and updated_at): hashes, not the head. Its run (State.Run) is
// hashed apart, and cheaply (runSum): at tens of thousands of tables its forecast is a megabyte of
// JSON, which every write encoded again, though it changes once per apply. The run is hashed whole
// at every write, never recognised by its pointer: a RunStart changed in place is journaled too.
type headSum struct {
	rest [sha256.Size]byte // the head without its run
	run  uint64            // runSum of its run
}

// sumHead hashes s's head, encoding its run only when its runSum is not the one t stored, and
// returns how to encode the whole head (the journal record's Head: the run first, then the rest;
// it decodes as the state encoded whole would). t may be nil.
func (t *tracker) sumHead(s *State) (sum headSum, encoded func() ([]byte, error), err error) {
	h := *s
	h.Actions, h.Serial, h.UpdatedAt, h.Run = nil, 0, nil, nil
	h.byAddr.Reset()
	rest, err := json.Marshal(&h)
	if err != nil {
		return headSum{}, nil, fmt.Errorf("encoding state of migration %q: %w", s.Migration, err)
	}
	sum.rest, sum.run = sha256.Sum256(rest), runSum(s.Run)
	return sum, func() ([]byte, error) {
		if s.Run == nil {
			return rest, nil
		}
		run, err := json.Marshal(s.Run)
		if err != nil {
			return nil, fmt.Errorf("encoding state of migration %q: %w", s.Migration, err)
		}
		// rest is an object with fields ({"format_version":...}): the run goes in as its first.
		head := make([]byte, 0, len(run)+len(rest)+8)
		head = append(append(append(head, `{"run":`...), run...), ',')
		return append(head, rest[1:]...), nil
	}, nil
}

// runSum hashes every field of a RunStart and of its forecast (TestRunSumCoversEveryField keeps it
// so); 0 for none.
func runSum(r *RunStart) uint64 {
	if r == nil {
		return 0
	}
	h := newHasher()
	h.mix(1)
	h.time(&r.StartedAt)
	h.mix(uint64(r.Jobs))
	f := r.Forecast
	if f == nil {
		h.mix(0)
		return h.sum
	}
	h.mix(1)
	h.mix(uint64(f.ExpectedMS))
	h.mix(uint64(f.LowMS))
	h.mix(uint64(f.HighMS))
	h.str(f.Basis)
	h.mix(uint64(f.BasisRun))
	h.mix(uint64(len(f.CriticalPath)))
	for _, p := range f.CriticalPath {
		h.str(p)
	}
	h.mix(uint64(len(f.CriticalMS)))
	for _, ms := range f.CriticalMS {
		h.mix(uint64(ms))
	}
	h.mix(uint64(f.Jobs))
	h.mix(uint64(f.BasisRunMS))
	h.str(f.Note)
	h.str(f.Unavailable)
	return h.sum
}

var sumSeed = maphash.MakeSeed()

// hasher mixes values into a 64-bit sum: strings through maphash.String, numbers directly.
type hasher struct{ sum uint64 }

func newHasher() hasher { return hasher{0x9e3779b97f4a7c15} }

func (h *hasher) mix(v uint64) {
	h.sum = (h.sum ^ v) * 0xff51afd7ed558ccd
	h.sum ^= h.sum >> 32
}

func (h *hasher) str(s string) { h.mix(maphash.String(sumSeed, s)) }

// time mixes in a time (nil: none) with its location when not UTC.
func (h *hasher) time(t *time.Time) {
	if t == nil {
		h.mix(0)
		return
	}
	h.mix(1)
	h.mix(uint64(t.UnixNano()))
	if t.Location() != time.UTC {
		h.str(t.Location().String())
	}
}

// actionSum hashes every field of an Action but its Address, which diff compares with the stored
// one (TestActionSumCoversEveryField keeps it so). It runs over every action at each write while
// In progress (62,000 of them at 20,000 tables, four times a second), so it is cheap: each field
// goes through its own term, the terms are summed (independent multiplications, not one chain),
// and strings are hashed only when they are not one of the statuses and kinds apply writes (an
// error, a database name: once per run of actions of the same database, sums.db).
//
// Each term is a bijection of its field (xor, an odd multiplication, a xorshift by half the width),
// so an action whose one field changed always sums differently; several changed fields cancel out
// only by a 64-bit coincidence.
func actionSum(a *Action) uint64 {
	var m summer
	return m.sum(a)
}

// summer is actionSum over many actions: it remembers the last database name it hashed.
type summer struct {
	db    string
	dbSum uint64
	init  bool
}

func (m *summer) sum(a *Action) uint64 {
	if !m.init || a.Database != m.db {
		m.db, m.dbSum, m.init = a.Database, strSum(a.Database), true
	}
	errSum := uint64(0)
	if a.Error != "" {
		errSum = strSum(a.Error)
	}
	return term(uint64(kindCode(a.Kind)), 0x9e3779b97f4a7c15) +
		term(m.dbSum, 0xbf58476d1ce4e5b9) +
		term(statusCode(a.Status), 0x94d049bb133111eb) +
		term(timeSum(a.StartedAt), 0x2545f4914f6cdd1d) +
		term(timeSum(a.FinishedAt), 0x27d4eb2f165667c5) +
		term(uint64(a.DurationMS), 0x165667b19e3779f9) +
		term(uint64(a.Rows), 0x85ebca77c2b2ae63) +
		term(uint64(a.Bytes), 0xc2b2ae3d27d4eb4f) +
		term(uint64(a.RowsEstimate), 0x61c8864680b583eb) +
		term(uint64(a.BytesEstimate), 0xd6e8feb86659fd93) +
		term(errSum, 0xa0761d6478bd642f) +
		term(uint64(a.Attempt), 0xe7037ed1a0b428db) +
		term(uint64(a.Lane), 0x8ebc6af09c88c6e3)
}

// term mixes one field's value v with its own key k.
func term(v, k uint64) uint64 {
	x := (v ^ k) * 0xff51afd7ed558ccd
	return x ^ x>>32
}

func strSum(s string) uint64 { return maphash.String(sumSeed, s) }

// kindCode and statusCode number the values apply writes; any other is hashed (a hash's top bit
// set keeps it apart from the numbers).
func kindCode(k ActionKind) uint64 {
	switch k {
	case KindCreate:
		return 1
	case KindUpdate:
		return 2
	case KindReplace:
		return 3
	case KindDelete:
		return 4
	}
	return strSum(string(k)) | 1<<63
}

func statusCode(s ActionStatus) uint64 {
	switch s {
	case ActionPending:
		return 1
	case ActionRunning:
		return 2
	case ActionApplied:
		return 3
	case ActionFailed:
		return 4
	case ActionTainted:
		return 5
	case ActionInterrupted:
		return 6
	}
	return strSum(string(s)) | 1<<63
}

// timeSum is a time's instant, and its location when not UTC (which its encoding shows); nil
// sums apart from every instant but one (a 64-bit coincidence).
func timeSum(t *time.Time) uint64 {
	if t == nil {
		return 0x5851f42d4c957f2d
	}
	v := uint64(t.UnixNano())
	if loc := t.Location(); loc != time.UTC {
		v ^= strSum(loc.String()) | 1
	}
	return v
}

// replay applies one journal record to s.
func (s *State) replay(rec *journalRecord) error {
	if rec.Head != nil {
		var h State
		if err := json.Unmarshal(rec.Head, &h); err != nil {
			return err
		}
		h.Actions = s.Actions
		*s = h
	}
	for _, a := range rec.Actions {
		if a == nil || a.Address == "" {
			return fmt.Errorf("an action without an address")
		}
		s.Upsert(a)
	}
	s.Serial, s.UpdatedAt = rec.Serial, rec.UpdatedAt
	return nil
}

// The local journal file: a first line naming the document it applies to, then one line per
// record, each "CRC32C(hex) JSON\n". A line cut short or not matching its checksum ends the
// journal (the write of the last record did not complete: it was never confirmed).
type journalHeader struct {
	Journal int    `json:"journal"` // 1
	Lineage string `json:"lineage"`
	Base    int64  `json:"base"`
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// framePrefix is what precedes a record in its line of the local journal: its checksum (crc of its
// encoding) and a space.
func framePrefix(crc uint32) []byte {
	return fmt.Appendf(nil, "%08x ", crc)
}

// readJournal replays the journal r on s, when it applies to s (same lineage, base = s.Serial),
// and returns how many bytes of it are valid. A journal of another document is ignored (n = 0):
// it was left by a compaction that did not get to remove it.
func readJournal(s *State, r io.Reader) (n int64, applies bool, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return 0, false, nil // empty, or its first line torn: nothing confirmed
	}
	var h journalHeader
	if json.Unmarshal(line, &h) != nil || h.Journal != 1 || h.Lineage != s.Lineage || h.Base != s.Serial {
		return 0, false, nil
	}
	n = int64(len(line))
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return n, true, nil // the end, or a record cut short
		}
		body := line[:len(line)-1]
		if len(body) < 9 || body[8] != ' ' {
			return n, true, nil
		}
		var sum uint32
		if _, err := fmt.Sscanf(string(body[:8]), "%08x", &sum); err != nil || sum != crc32.Checksum(body[9:], crcTable) {
			return n, true, nil
		}
		var rec journalRecord
		if err := json.Unmarshal(body[9:], &rec); err != nil {
			return n, true, nil
		}
		if err := s.replay(&rec); err != nil {
			return n, true, fmt.Errorf("journal record of serial %d: %w", rec.Serial, err)
		}
		n += int64(len(line))
	}
}

// writeDocument writes s as encodeState does (indented JSON and a newline), one action at a time,
// so that a state of tens of thousands of actions is never held encoded in memory whole.
func writeDocument(w io.Writer, s *State) error {
	if s.Actions == nil {
		b, err := encodeState(s)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	h := *s
	h.Actions = []*Action{}
	b, err := encodeState(&h)
	if err != nil {
		return err
	}
	const key = "\n  \"actions\": []"
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return fmt.Errorf("encoding state of migration %q: no actions key", s.Migration)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(b[:i])
	bw.WriteString("\n  \"actions\": [")
	var ab []byte
	for k, a := range s.Actions {
		if k > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		if ab, err = appendAction(ab[:0], a, "    ", "  "); err != nil {
			return fmt.Errorf("encoding state of migration %q: %w", s.Migration, err)
		}
		bw.Write(ab)
	}
	if len(s.Actions) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteByte(']')
	bw.Write(b[i+len(key):])
	return bw.Flush()
}
