package plan

import "fmt"

// analyze plans gathering the planner statistics of the database, after post-data and every
// foreign key.
func (d *dbPlanner) analyze() {
	anAddr := PartAddr(d.db, TypeAnalyze)
	if d.need(anAddr) {
		d.add(&Action{Address: anAddr, Type: TypeAnalyze, Kind: Create, Database: d.db, Reason: "gather planner statistics (ANALYZE)",
			DependsOn: append([]string{PartAddr(d.db, TypePostData)}, d.consAddrs...)})
	}
}

// verify plans comparing source and target (unless verify = "none"), last: after analyze, the
// ownership changes (ownAddrs) and the large objects' contents.
func (d *dbPlanner) verify(ownAddrs []string) {
	verify := d.in.Migration.Options.Verify
	if verify == "none" {
		return
	}
	loAddr := PartAddr(d.db, TypeLargeObj)
	v := &Action{Address: PartAddr(d.db, TypeVerify), Type: TypeVerify, Kind: Create, Database: d.db, Reason: fmt.Sprintf("compare source and target (%s)", verify),
		DependsOn: append([]string{PartAddr(d.db, TypeAnalyze)}, ownAddrs...)}
	if d.sdb.LargeObjects > 0 && d.need(loAddr) {
		v.DependsOn = append(v.DependsOn, loAddr)
	}
	d.add(v)
}
