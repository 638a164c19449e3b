// Package addrindex finds the items of a list by address without scanning it: the plan's actions
// and the state's (a migration of 100,000 tables has 310,000 of each, looked up by address many
// times).
package addrindex

// Index maps addresses to positions in a list that is appended to, and now and then cut or
// rewritten. It indexes the items appended since the last lookup, and rebuilds itself when the
// list got shorter, when the last item it indexed is not at its place any more, or when a hit no
// longer holds its address. The first of duplicate addresses wins,
// as a scan would find it. The zero Index is empty and ready.
type Index struct {
	pos  map[string]int
	n    int    // the list's items indexed: [0, n)
	last string // the address of item n-1 when it was indexed
}

// Find returns the position of addr in a list of n items, where at(i) is item i's address ("" for
// an item without one), or -1.
func (x *Index) Find(n int, at func(int) string, addr string) int {
	for attempt := 0; attempt < 2; attempt++ {
		if x.pos == nil || x.n > n || (x.n > 0 && at(x.n-1) != x.last) || attempt > 0 {
			x.pos, x.n = make(map[string]int, n), 0
		}
		for ; x.n < n; x.n++ {
			if x.last = at(x.n); x.last != "" {
				if _, dup := x.pos[x.last]; !dup {
					x.pos[x.last] = x.n
				}
			}
		}
		i, ok := x.pos[addr]
		if !ok {
			return -1
		}
		if at(i) == addr {
			return i
		}
	}
	return -1
}

// Reset empties the index (a copy of the list it indexed must not share it).
func (x *Index) Reset() { x.pos, x.n, x.last = nil, 0, "" }
