package apply

import (
	"reflect"
	"testing"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
)

// TestEarlyPostData: an index or foreign key of a table copied early may start once pre-data ran
// the entries its definition depends on and every later entry on them that takes a lock (a
// comment, a grant), not waiting for views (they only read); one on a table not copied early, or
// whose definition lists no dependency, waits for the schema action as before.
func TestEarlyPostData(t *testing.T) {
	d := &dbRun{sourceDump: &sourceDump{
		byID: map[int]tocEntry{10: {Desc: "TABLE"}, 11: {Desc: "COMMENT"}, 20: {Desc: "TABLE"}, 25: {Desc: "FUNCTION"},
			30: {Desc: "VIEW"}, 31: {Desc: "TABLE"}, 40: {Desc: "ACL"}},
		preChunks: []pgdump.Chunk{
			{DumpID: 10, SQL: "CREATE TABLE public.a (id int);"},                                       // 0
			{DumpID: 11, SQL: "COMMENT ON TABLE public.a IS 'x';", Deps: []int{10}},                    // 1
			{DumpID: 20, SQL: "CREATE TABLE public.b (id int, a_id int);"},                             // 2
			{DumpID: 25, SQL: "CREATE FUNCTION public.f(int) RETURNS int AS 'select 1' LANGUAGE sql;"}, // 3
			{DumpID: 30, SQL: "CREATE VIEW public.v AS SELECT * FROM public.a, public.b;", Deps: []int{10, 20}},
			{DumpID: 31, SQL: "CREATE TABLE public.c (id int);"},                       // 5
			{DumpID: 40, SQL: "GRANT SELECT ON TABLE public.b TO r;", Deps: []int{20}}, // 6
		},
		chunks: []pgdump.Chunk{
			{DumpID: 50, SQL: "ALTER TABLE ONLY public.a ADD CONSTRAINT a_pkey PRIMARY KEY (id);", Deps: []int{10}},
			{DumpID: 51, SQL: "CREATE INDEX a_f ON public.a USING btree (public.f(id));", Deps: []int{25, 10}},
			{DumpID: 52, SQL: "ALTER TABLE ONLY public.b ADD CONSTRAINT b_fk FOREIGN KEY (a_id) REFERENCES public.a(id);", Deps: []int{20, 10, 50}},
			{DumpID: 53, SQL: "CREATE INDEX c_i ON public.c USING btree (id);", Deps: []int{31}},
			{DumpID: 54, SQL: "CREATE INDEX c_j ON public.c USING btree (id);"},
		},
		byOID: map[[2]uint32]int{{2606, 500}: 0, {1259, 501}: 1, {2606, 502}: 2, {1259, 503}: 3, {1259, 504}: 4},
	}, src: &catalog.Database{}}
	actions := []*plan.Action{
		{Address: "s", Type: plan.TypeSchema},
		{Address: "ta", Type: plan.TypeTable, Schema: "public", Name: "a", DependsOn: []string{"s"}},
		{Address: "tb", Type: plan.TypeTable, Schema: "public", Name: "b", DependsOn: []string{"s"}},
		{Address: "tc", Type: plan.TypeTable, Schema: "public", Name: "c", DependsOn: []string{"s"}},
		{Address: "a_pkey", Type: plan.TypeIndex, Schema: "public", Table: "a", SourceOID: 499, ConstraintOID: 500, DependsOn: []string{"ta"}},
		{Address: "a_f", Type: plan.TypeIndex, Schema: "public", Table: "a", SourceOID: 501, DependsOn: []string{"ta"}},
		{Address: "b_fk", Type: plan.TypeConstraint, Schema: "public", Table: "b", SourceOID: 502, DependsOn: []string{"tb", "ta", "a_pkey"}},
		{Address: "c_i", Type: plan.TypeIndex, Schema: "public", Table: "c", SourceOID: 503, DependsOn: []string{"tc"}},
		{Address: "c_j", Type: plan.TypeIndex, Schema: "public", Table: "c", SourceOID: 504, DependsOn: []string{"tc"}},
	}
	tasks := GraphTasks(actions)
	tasks[0].Gate = true
	tasks[1].Early, tasks[2].Early = 1, 3 // the copies of a and b; c is not copied early
	d.earlyPostData(actions, tasks)
	var got []int
	for _, tk := range tasks[4:] {
		got = append(got, tk.Early)
	}
	// a_pkey after a's comment (chunk 1); a_f after the function (3); b_fk after b's grant (6),
	// not held back by the view; c's indexes wait for the schema action.
	if want := []int{2, 4, 7, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("Early of the indexes and foreign key %v, want %v", got, want)
	}
	if _, err := sched.Simulate(tasks, make([]time.Duration, len(tasks)), sched.SimOptions{Jobs: 2, GateSteps: len(d.preChunks)}); err != nil {
		t.Errorf("the graph does not run: %v", err)
	}
}

// TestSmallTasks: copies, indexes and foreign keys of small tables are latency-bound work (Small);
// those of large or split tables, of tables an earlier run loaded, and the other actions are not.
func TestSmallTasks(t *testing.T) {
	actions := []*plan.Action{
		{Address: "s", Type: plan.TypeSchema},
		{Address: "small", Type: plan.TypeTable, BytesEstimate: 1 << 20, DependsOn: []string{"s"}},
		{Address: "big", Type: plan.TypeTable, BytesEstimate: 100 << 20, DependsOn: []string{"s"}},
		{Address: "small_idx", Type: plan.TypeIndex, BytesEstimate: 1 << 19, DependsOn: []string{"small"}},
		{Address: "big_idx", Type: plan.TypeIndex, BytesEstimate: 1 << 19, DependsOn: []string{"big"}},
		{Address: "fk_small", Type: plan.TypeConstraint, DependsOn: []string{"small", "small_idx"}},
		{Address: "fk_mixed", Type: plan.TypeConstraint, DependsOn: []string{"small", "big", "big_idx"}},
		{Address: "loaded_idx", Type: plan.TypeIndex, BytesEstimate: 1 << 10, DependsOn: []string{"s"}},
		{Address: "split", Type: plan.TypeTable, BytesEstimate: 1 << 20, Parts: 2, DependsOn: []string{"s"}},
		{Address: "analyze", Type: plan.TypeAnalyze, DependsOn: []string{"small"}},
	}
	var got []string
	for i, tk := range GraphTasks(actions) {
		if tk.Small {
			got = append(got, actions[i].Address)
		}
	}
	if want := []string{"small", "small_idx", "fk_small"}; !reflect.DeepEqual(got, want) {
		t.Errorf("small tasks %v, want %v", got, want)
	}
	for _, tc := range []struct {
		jobs int
		rtt  time.Duration
		want int
	}{{2, 200 * time.Microsecond, 0}, {2, 4 * time.Millisecond, 0}, {2, 20 * time.Millisecond, 4}, {1, 5 * time.Millisecond, 2}, {8, 50 * time.Millisecond, 8}} {
		if got := ExtraLanes(tc.jobs, tc.rtt); got != tc.want {
			t.Errorf("ExtraLanes(%d, %v) = %d, want %d", tc.jobs, tc.rtt, got, tc.want)
		}
	}
}

// TestGroupIndexes: the indexes of each small table share a group of their own; a large table's
// indexes and every foreign key have none.
func TestGroupIndexes(t *testing.T) {
	actions := []*plan.Action{
		{Address: "ta", Type: plan.TypeTable, Schema: "s", Name: "a", BytesEstimate: 1 << 10},
		{Address: "tb", Type: plan.TypeTable, Schema: "s", Name: "b", BytesEstimate: 1 << 10},
		{Address: "tbig", Type: plan.TypeTable, Schema: "s", Name: "big", BytesEstimate: 1 << 30},
		{Address: "a_pkey", Type: plan.TypeIndex, Schema: "s", Table: "a", DependsOn: []string{"ta"}},
		{Address: "a_i", Type: plan.TypeIndex, Schema: "s", Table: "a", DependsOn: []string{"ta"}},
		{Address: "b_pkey", Type: plan.TypeIndex, Schema: "s", Table: "b", DependsOn: []string{"tb"}},
		{Address: "b_fk", Type: plan.TypeConstraint, Schema: "s", Table: "b", DependsOn: []string{"tb", "ta", "a_pkey"}},
		{Address: "big_pkey", Type: plan.TypeIndex, Schema: "s", Table: "big", DependsOn: []string{"tbig"}},
		{Address: "big_i", Type: plan.TypeIndex, Schema: "s", Table: "big", DependsOn: []string{"tbig"}},
	}
	tasks := GraphTasks(actions)
	groupIndexes(actions, tasks)
	got := make([]int, len(tasks))
	for i := range tasks {
		got[i] = tasks[i].Group
	}
	if want := []int{0, 0, 0, 1, 1, 2, 0, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
}
