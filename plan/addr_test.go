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

func TestAddrType(t *testing.T) {
	for addr, want := range map[string]string{
		RoleAddr("app"):                                TypeRole,
		RoleAddr("my role"):                            TypeRole,
		MembershipAddr("app", "readers"):               TypeMembership,
		MembershipAddr("my.role", "r"):                 TypeMembership,
		ParameterAddr("work_mem"):                      TypeParameter,
		DatabaseAddr("shop"):                           TypeDatabase,
		DatabaseAddr("my.db"):                          TypeDatabase,
		ExtensionAddr("shop", "hstore"):                TypeExtension,
		TableAddr("shop", "public", "t"):               TypeTable,
		TableAddr("my db", "pub.lic", `we"ird].part[`): TypeTable,
		TablePartAddr("shop", "public", "big", 2):      TypeTablePart,
		IndexAddr("shop", "public", "t_pkey"):          TypeIndex,
		ConstraintAddr("shop", "public", "t", "fk"):    TypeConstraint,
		OwnershipAddr("shop", "postgres"):              TypeOwnership,
		PartAddr("shop", TypeSchema):                   TypeSchema,
		PartAddr(`we"ird.db`, TypeSequences):           TypeSequences,
		PartAddr("shop", TypePostData):                 TypePostData,
		PartAddr("shop", TypeLargeObj):                 TypeLargeObj,
		PartAddr("shop", TypeExtData):                  TypeExtData,
		PartAddr("shop", TypeAnalyze):                  TypeAnalyze,
		PartAddr("shop", TypeVerify):                   TypeVerify,
		"":                                             "",
		"database.":                                    "",
		"database.shop.nonsense":                       "",
		`database["unterminated`:                       "",
		"role.app.owner":                               "",
	} {
		if got := AddrType(addr); got != want {
			t.Errorf("AddrType(%q) = %q, want %q", addr, got, want)
		}
	}
}
