package views

import (
	"testing"

	"github.com/pgferry/pgferry/state"
)

func TestRunningFigures(t *testing.T) {
	for _, c := range []struct {
		a          state.Action
		rows, size string
	}{
		{state.Action{Bytes: 25 << 20, BytesEstimate: 100 << 20, RowsEstimate: 1_000_000}, "~250.0k of ~1.0M", "25.0 MiB of 100.0 MiB (25%)"},
		// past a low estimate: 99% until apply says it is done
		{state.Action{Bytes: 150 << 20, BytesEstimate: 100 << 20, RowsEstimate: 1_000_000}, "~1.0M of ~1.0M", "150.0 MiB of 150.0 MiB (99%)"},
		// large objects count their rows
		{state.Action{Rows: 10, Bytes: 1 << 20, BytesEstimate: 4 << 20, RowsEstimate: 40}, "~10 of ~40", "1.0 MiB of 4.0 MiB (25%)"},
		{state.Action{}, "-", "-"},
		{state.Action{Bytes: 1 << 20}, "-", "1.0 MiB so far"},
	} {
		rows, size := runningFigures(&c.a)
		if rows != c.rows || size != c.size {
			t.Errorf("runningFigures(%+v) = %q, %q; want %q, %q", c.a, rows, size, c.rows, c.size)
		}
	}
}
