package main

import "testing"

func TestCopyFormatSeen(t *testing.T) {
	// plan --json and apply output of a bench run (23:20) whose apply sent text though its plan chose binary.
	doc := `{"actions":[{"address":"database.forecast.table[\"public\".\"pgbench_accounts\"]","copy_format":"binary",
	"details":["copy format: binary, cheaper on CPU: the link carried 10.5 MB/s, faster than the source's COPY sent (9.3 MB/s), so bytes do not bound the copy; a sample of 3965 rows: text 51 kB, binary 119 kB (text 43% of binary)"]}]}`
	s := planCopyFormat([]byte(doc))
	if s.Format != "binary" || s.TextRow < 12.8 || s.TextRow > 12.9 || s.BinaryRow < 30 || s.BinaryRow > 30.1 {
		t.Fatalf("plan: %+v", s)
	}
	text := s
	text.applyCopyFormat([]byte("x\ndatabase.forecast.table[\"public\".\"pgbench_accounts\"]: Creation complete after 10s [2.0M rows, 24.8 MiB]\n"))
	if text.ApplyGuess != "text" {
		t.Errorf("24.8 MiB for 2.0M rows: %+v", text)
	}
	c := &ForecastCase{Format: text}
	if got := c.formatCell(""); got != "binary/text!" {
		t.Errorf("cell %q", got)
	}
	bin := s
	bin.applyCopyFormat([]byte("database.forecast.table[\"public\".\"pgbench_accounts\"]: Creation complete after 4s [2.0M rows, 57.2 MiB]"))
	if bin.ApplyGuess != "binary" {
		t.Errorf("57.2 MiB for 2.0M rows: %+v", bin)
	}
	c = &ForecastCase{Format: bin}
	if got := c.formatCell("binary"); got != "binary/binary" {
		t.Errorf("cell %q", got)
	}
	if got := c.formatCell("text"); got != "binary/binary!" {
		t.Errorf("cell after a text apply %q", got)
	}
	none := planCopyFormat([]byte(`{"actions":[]}`))
	none.applyCopyFormat([]byte("nothing"))
	if (&ForecastCase{Format: none}).formatCell("") != "—" || none.ApplyGuess != "" {
		t.Errorf("nothing: %+v", none)
	}
}
