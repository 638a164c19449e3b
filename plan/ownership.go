package plan

import (
	"fmt"
	"sort"

	"github.com/pgferry/pgferry/internal/english"
)

// ownership plans, for each role owning objects of the database (or the database itself) whose
// objects go to another role on the target, one change action, and returns their addresses. The
// statements that give the objects their owners are pg_dump's, rewritten by apply; the action runs
// after all of them (post-data, large objects, foreign keys) and confirms that none of the
// database's objects kept the role.
func (d *dbPlanner) ownership() []string {
	db, sdb, changes := d.db, d.sdb, d.changes
	after := []string{PartAddr(db, TypePostData)}
	if sdb.LargeObjects > 0 {
		after = append(after, PartAddr(db, TypeLargeObj))
	}
	after = append(after, d.consAddrs...)
	roles := make([]string, 0, len(changes))
	for r := range changes {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	info := d.in.Source.Database(db)
	var addrs []string
	for _, r := range roles {
		c := changes[r]
		own := sdb.Owned[r]
		if c.Problem != "" || (own == nil && (info == nil || info.Owner != r)) {
			continue
		}
		addr := OwnershipAddr(db, r)
		if !d.need(addr) {
			continue
		}
		n, kinds := 1, "1 database"
		if own != nil {
			n, kinds = own.Total, own.KindsString()
		}
		d.add(&Action{Address: addr, Type: TypeOwnership, Kind: Update, Database: db, Name: r, Table: c.To,
			Reason:    fmt.Sprintf("ownership: %s of %q → %q", english.Count(n, "object"), r, c.To),
			Details:   []string{kinds, "because " + c.Reason},
			Hazards:   []Hazard{{"REASSIGNS_OWNER", fmt.Sprintf("objects owned by %q on the source are owned by %q on the target, and its grants and default privileges follow", r, c.To)}},
			DependsOn: append([]string(nil), after...)})
		addrs = append(addrs, addr)
	}
	return addrs
}
