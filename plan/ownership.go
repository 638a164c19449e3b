package plan

import (
	"fmt"
	"sort"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
)

// ownershipActions plans, for each role owning objects of database db (or the database itself)
// whose objects go to another role on the target, one change action, and returns their addresses.
// The statements that give the objects their owners are pg_dump's, rewritten by apply; the action
// runs after all of them (deps) and confirms that none of the database's objects kept the role.
func ownershipActions(in Input, db string, sdb *catalog.Database, changes map[string]catalog.OwnerChange, need func(string) bool, deps []string, add func(*Action)) []string {
	roles := make([]string, 0, len(changes))
	for r := range changes {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	info := in.Source.Database(db)
	var addrs []string
	for _, r := range roles {
		c := changes[r]
		own := sdb.Owned[r]
		if c.Problem != "" || (own == nil && (info == nil || info.Owner != r)) {
			continue
		}
		addr := OwnershipAddr(db, r)
		if !need(addr) {
			continue
		}
		n, kinds := 1, "1 database"
		if own != nil {
			n, kinds = own.Total, own.KindsString()
		}
		add(&Action{Address: addr, Type: TypeOwnership, Kind: Update, Database: db, Name: r, Table: c.To,
			Reason:    fmt.Sprintf("ownership: %s of %q → %q", english.Count(n, "object"), r, c.To),
			Details:   []string{kinds, "because " + c.Reason},
			Hazards:   []Hazard{{"REASSIGNS_OWNER", fmt.Sprintf("objects owned by %q on the source are owned by %q on the target, and its grants and default privileges follow", r, c.To)}},
			DependsOn: append([]string(nil), deps...)})
		addrs = append(addrs, addr)
	}
	return addrs
}
