package addrindex

import "testing"

// TestFind: what Find returns is what a scan for the first item of that address returns, after
// appends, a cut, a reorder, items without an address and duplicates.
func TestFind(t *testing.T) {
	var x Index
	list := []string{"a", "", "b", "a"}
	check := func(step string) {
		t.Helper()
		for _, addr := range []string{"e", "d", "c", "b", "a"} { // misses first: a stale index must not answer them
			want := -1
			for i, a := range list {
				if a == addr {
					want = i
					break
				}
			}
			if got := x.Find(len(list), func(i int) string { return list[i] }, addr); got != want {
				t.Errorf("%s: Find(%q) = %d, want %d (list %q)", step, addr, got, want, list)
			}
		}
	}
	check("first")
	list = append(list, "c", "d")
	check("appended")
	list = list[:3]
	check("cut")
	list = []string{"b", "a", "e"}
	check("reordered, same length")
	list = []string{"b", "e"}
	check("filtered")
	list = append(list, "c", "d")
	check("filtered, then appended past its old length")
	x.Reset()
	list = []string{"e"}
	check("reset")
}
