package plan

func deps(a *Action) []string {
	if a == nil {
		return nil
	}
	return []string{a.Address}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func appendUnique(s []string, x string) []string {
	if contains(s, x) {
		return s
	}
	return append(s, x)
}
