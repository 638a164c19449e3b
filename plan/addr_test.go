package plan

import "testing"

func TestAddrDatabase(t *testing.T) {
	for addr, want := range map[string]string{
		TableAddr("shop", "public", "t"):          "shop",
		TableAddr("my db", "public", "t"):         "my db",
		PartAddr(`we"ird.db`, "schema"):           `we"ird.db`,
		DatabaseAddr("shop"):                      "shop",
		RoleAddr("app"):                           "",
		ParameterAddr("work_mem"):                 "",
		TablePartAddr("shop", "public", "big", 1): "shop",
	} {
		if got := AddrDatabase(addr); got != want {
			t.Errorf("AddrDatabase(%q) = %q, want %q", addr, got, want)
		}
	}
}
