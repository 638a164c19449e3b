package planfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/catalog"
)

// Digest hashes what a saved plan depends on, one entry per object (see catalog.Digest): each
// role with its memberships, the instance's databases, and every object of the selected ones.
// Password hashes enter one entry for all roles together, never one per role: a hash of one
// role's password hash would be a clue to guess it.
func Digest(in *catalog.Instance, dbs map[string]*catalog.Database, names []string) map[string]string {
	out := map[string]string{}
	roles := map[string][]string{}
	var passwords []string
	for _, r := range in.Roles {
		roles[r.Name] = append(roles[r.Name], fmt.Sprintf("r %t %t %t %t %t %t %t %d %q %t %q %q", r.Superuser, r.Inherit, r.CreateRole,
			r.CreateDB, r.Login, r.Replication, r.BypassRLS, r.ConnLimit, r.ValidUntil, r.HasPassword,
			strings.Join(r.Config, "\x00"), r.Comment))
		passwords = append(passwords, fmt.Sprintf("%q %q", r.Name, r.PasswordHash))
	}
	for _, m := range in.Memberships {
		roles[m.Member] = append(roles[m.Member], fmt.Sprintf("m %q %t", m.Role, m.AdminOption))
	}
	for name, lines := range roles {
		sort.Strings(lines)
		out["role "+name] = hashLines(lines)
	}
	sort.Strings(passwords)
	out["role passwords"] = hashLines(passwords)
	for _, d := range in.Databases {
		out["database "+d.Name] = hashLines([]string{d.Owner, d.Encoding, d.Collate, d.Ctype})
	}
	for _, n := range names {
		if d := dbs[n]; d != nil {
			for k, v := range d.Digest() {
				out["database "+n+": "+k] = v
			}
		}
	}
	return out
}

// Fingerprint hashes a digest whole.
func Fingerprint(d map[string]string) string {
	lines := make([]string, 0, len(d))
	for k, v := range d {
		lines = append(lines, k+" "+v)
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func hashLines(lines []string) string {
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:digestLen]
}

// digestLen is the length of one digest entry in hex digits, as catalog.Digest's.
const digestLen = 12
