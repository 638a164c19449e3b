// Package jsonschema checks JSON documents against the subset of JSON Schema (draft 2020-12)
// that pgferry's documented formats use (docs/plan-json.schema.json): type, required, properties,
// items, enum and local $ref. Any other assertion keyword is an error, so a schema cannot promise
// what this checker does not check. It serves the tests, which validate both synthetic plans and
// the real output of `pgferry plan --json` against the documented schema.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Schema is a loaded schema document.
type Schema struct {
	root map[string]any
	// Strict also rejects object members the schema does not declare: our own output must be
	// fully documented, though readers must accept unknown members.
	Strict bool
}

var annotations = map[string]bool{"$schema": true, "$id": true, "$defs": true, "title": true, "description": true, "format": true}

// Load reads a draft 2020-12 schema, strict.
func Load(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("%s: $schema = %v, want draft 2020-12", path, root["$schema"])
	}
	return &Schema{root: root, Strict: true}, nil
}

// Decode parses one JSON document, keeping numbers exact.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return v, nil
}

// Check returns every way the decoded document v breaks the schema, each prefixed with its JSON
// path ($ for the root); none when it conforms.
func (s *Schema) Check(v any) []string { return s.check("$", s.root, v) }

func (s *Schema) resolve(node map[string]any) (map[string]any, error) {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node, nil
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	defs, _ := s.root["$defs"].(map[string]any)
	def, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q: no such definition", ref)
	}
	return s.resolve(def)
}

// check returns every way v breaks node, each prefixed with its JSON path.
func (s *Schema) check(path string, node map[string]any, v any) []string {
	node, err := s.resolve(node)
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range node {
		switch k {
		case "type", "required", "properties", "items", "enum", "$ref":
		default:
			if !annotations[k] {
				fail("schema keyword %q is not supported by this checker", k)
			}
		}
	}
	if typ, ok := node["type"].(string); ok {
		if !hasType(v, typ) {
			fail("want %s, got %s", typ, jsonType(v))
			return errs
		}
	} else if list, ok := node["type"].([]any); ok {
		// A list of types: any of them (a nullable member is ["object", "null"]).
		var names []string
		match := false
		for _, t := range list {
			name, ok := t.(string)
			if !ok {
				fail("type must be a string or a list of strings")
				return errs
			}
			names = append(names, name)
			match = match || hasType(v, name)
		}
		if !match {
			fail("want %s, got %s", strings.Join(names, " or "), jsonType(v))
			return errs
		}
	} else if _, present := node["type"]; present {
		fail("type must be a string or a list of strings")
	}
	if enum, ok := node["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) && jsonType(v) == jsonType(e) }) {
			fail("%v is not one of %v", v, enum)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := node["properties"].(map[string]any)
		if req, ok := node["required"].([]any); ok {
			for _, r := range req {
				if _, present := obj[r.(string)]; !present {
					fail("required member %q is missing", r)
				}
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, declared := props[k].(map[string]any)
			if !declared {
				if s.Strict {
					fail("member %q is not declared in the schema", k)
				}
				continue
			}
			errs = append(errs, s.check(path+"."+k, sub, obj[k])...)
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := node["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, s.check(fmt.Sprintf("%s[%d]", path, i), items, e)...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func hasType(v any, typ string) bool {
	got := jsonType(v)
	return got == typ || (typ == "number" && got == "integer")
}

// Members lists, sorted, the name of every object member the schema declares anywhere.
func (s *Schema) Members() ([]string, error) {
	seen := map[string]bool{}
	var names []string
	var walk func(node map[string]any) error
	walk = func(node map[string]any) error {
		node, err := s.resolve(node)
		if err != nil {
			return err
		}
		props, _ := node["properties"].(map[string]any)
		for k, sub := range props {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
			if m, ok := sub.(map[string]any); ok {
				if err := walk(m); err != nil {
					return err
				}
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			return walk(items)
		}
		return nil
	}
	if err := walk(s.root); err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}
