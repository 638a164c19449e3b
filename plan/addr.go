package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Addresses.

// TablePartAddr names part i of a table: database.DB.table["s"."t"].part[i].
func TablePartAddr(db, schema, name string, i int) string {
	return fmt.Sprintf("%s.part[%d]", TableAddr(db, schema, name), i)
}

// RoleAddr is role.NAME.
func RoleAddr(name string) string { return "role." + addrName(name) }

// MembershipAddr is role.MEMBER.member_of["ROLE"].
func MembershipAddr(member, role string) string {
	return fmt.Sprintf("role.%s.member_of[%q]", addrName(member), role)
}

// ParameterAddr is server_parameter.NAME.
func ParameterAddr(name string) string { return "server_parameter." + addrName(name) }

// DatabaseAddr is database.NAME.
func DatabaseAddr(db string) string { return "database." + addrName(db) }

// ExtensionAddr is database.DB.extension.NAME.
func ExtensionAddr(db, name string) string { return DatabaseAddr(db) + ".extension." + addrName(name) }

// TableAddr is database.DB.table["schema"."name"].
func TableAddr(db, schema, name string) string {
	return fmt.Sprintf("%s.table[%q.%q]", DatabaseAddr(db), schema, name)
}

// IndexAddr is database.DB.index["schema"."name"].
func IndexAddr(db, schema, name string) string {
	return fmt.Sprintf("%s.index[%q.%q]", DatabaseAddr(db), schema, name)
}

// ConstraintAddr is database.DB.constraint["schema"."table"."name"].
func ConstraintAddr(db, schema, table, name string) string {
	return fmt.Sprintf("%s.constraint[%q.%q.%q]", DatabaseAddr(db), schema, table, name)
}

// OwnershipAddr is database.DB.ownership["ROLE"]: the objects of ROLE in DB given to another role.
func OwnershipAddr(db, role string) string {
	return fmt.Sprintf("%s.ownership[%q]", DatabaseAddr(db), role)
}

// PartAddr is DatabaseAddr(db) + "." + part (schema, sequences, post_data, analyze, verify).
func PartAddr(db, part string) string { return DatabaseAddr(db) + "." + part }

// addrName keeps plain identifiers bare and quotes the rest: role.app, role["my role"].
func addrName(n string) string {
	for i, r := range n {
		if !(r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return fmt.Sprintf("[%q]", n)
		}
	}
	if n == "" {
		return `[""]`
	}
	return n
}

// AddrDatabase is the database an address belongs to ("" for roles and server parameters):
// "shop" for database.shop.table["public"."t"], "my db" for database["my db"].schema.
func AddrDatabase(addr string) string {
	rest, ok := strings.CutPrefix(addr, "database.")
	if !ok {
		return ""
	}
	if strings.HasPrefix(rest, `["`) {
		end := strings.Index(rest, `"]`)
		if end < 0 {
			return ""
		}
		name, err := strconv.Unquote(rest[1 : end+1])
		if err != nil {
			return ""
		}
		return name
	}
	name, _, _ := strings.Cut(rest, ".")
	return name
}

// AddrType is the type of the action at addr (TypeTable, TypeIndex, …), read from the address
// alone, for when the plan is not at hand; "" when addr is no action address. A login's
// membership reads as TypeMembership (its address is a membership's).
func AddrType(addr string) string {
	if rest, ok := strings.CutPrefix(addr, "server_parameter."); ok && rest != "" {
		return TypeParameter
	}
	if rest, ok := strings.CutPrefix(addr, "role"); ok {
		_, after, ok := cutAddrName(rest)
		switch {
		case !ok:
			return ""
		case after == "":
			return TypeRole
		case strings.HasPrefix(after, ".member_of["):
			return TypeMembership
		}
		return ""
	}
	rest, ok := strings.CutPrefix(addr, "database")
	if !ok {
		return ""
	}
	_, after, ok := cutAddrName(rest)
	if !ok {
		return ""
	}
	switch {
	case after == "":
		return TypeDatabase
	case strings.HasPrefix(after, ".extension."):
		return TypeExtension
	case strings.HasPrefix(after, ".table["):
		// ["schema"."name"], then .part[i] for a part
		tail := strings.TrimPrefix(after, ".table[")
		for _, sep := range []string{".", "]"} {
			q, err := strconv.QuotedPrefix(tail)
			if err != nil || !strings.HasPrefix(tail[len(q):], sep) {
				return ""
			}
			tail = tail[len(q)+1:]
		}
		switch {
		case tail == "":
			return TypeTable
		case strings.HasPrefix(tail, ".part["):
			return TypeTablePart
		}
		return ""
	case strings.HasPrefix(after, ".index["):
		return TypeIndex
	case strings.HasPrefix(after, ".constraint["):
		return TypeConstraint
	case strings.HasPrefix(after, ".ownership["):
		return TypeOwnership
	}
	switch part := strings.TrimPrefix(after, "."); part {
	case TypeSchema, TypeSequences, TypePostData, TypeAnalyze, TypeVerify, TypeLargeObj, TypeExtData:
		return part
	}
	return ""
}

// cutAddrName cuts the name after a prefix (role, database) off an address's rest: ".name…"
// (a bare name) or `.["name"]…` (addrName's forms), and returns the name and what follows.
func cutAddrName(rest string) (name, after string, ok bool) {
	if q, found := strings.CutPrefix(rest, ".["); found {
		quoted, err := strconv.QuotedPrefix(q)
		if err != nil || !strings.HasPrefix(q[len(quoted):], "]") {
			return "", "", false
		}
		name, _ = strconv.Unquote(quoted)
		return name, q[len(quoted)+1:], true
	}
	bare, found := strings.CutPrefix(rest, ".")
	if !found || bare == "" {
		return "", "", false
	}
	name, after, dotted := strings.Cut(bare, ".")
	if name == "" {
		return "", "", false
	}
	if dotted {
		after = "." + after
	}
	return name, after, true
}
