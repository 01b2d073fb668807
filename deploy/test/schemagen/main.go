// Command schemagen writes the strict, standalone JSON schemas kubeconform
// validates against, named as kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.json
// (e.g. deployment-apps-v1.json, service-v1.json):
//
//	schemagen -out DIR -swagger api/openapi-spec/swagger.json [-crd crd.yaml ...]
//
// From Kubernetes' OpenAPI v2 document (the k8s.io/kubernetes module's
// api/openapi-spec/swagger.json) it writes one schema per group/version/kind,
// with only the definitions it references; from each CustomResourceDefinition,
// one per served version. Strict: an object schema that lists properties
// admits no others (as kubeconform's -strict schemas), and int-or-string and
// quantity fields admit both spellings.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	out := flag.String("out", "", "output directory")
	swagger := flag.String("swagger", "", "Kubernetes swagger.json")
	var crds multi
	flag.Var(&crds, "crd", "CustomResourceDefinition YAML (repeatable)")
	flag.Parse()
	if *out == "" || (*swagger == "" && len(crds) == 0) {
		flag.Usage()
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fatal(err)
	}
	n := 0
	if *swagger != "" {
		c, err := fromSwagger(*swagger, *out)
		if err != nil {
			fatal(err)
		}
		n += c
	}
	for _, f := range crds {
		c, err := fromCRD(f, *out)
		if err != nil {
			fatal(fmt.Errorf("%s: %w", f, err))
		}
		n += c
	}
	fmt.Printf("schemagen: %d schemas in %s\n", n, *out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "schemagen:", err)
	os.Exit(1)
}

// fileName is kubeconform's name for a kind's schema.
func fileName(group, version, kind string) string {
	suffix := "-" + strings.ToLower(version)
	if group != "" {
		suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + suffix
	}
	return strings.ToLower(kind) + suffix + ".json"
}

type object = map[string]any

func fromSwagger(path, out string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]object `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, err
	}
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		def := doc.Definitions[name]
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk := g.(object)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			// The schema itself plus every definition it reaches, refs local.
			defs := object{}
			collect(doc.Definitions, name, defs)
			schema := object{
				"$schema":     "http://json-schema.org/draft-07/schema#",
				"$ref":        "#/definitions/" + name,
				"definitions": defs,
			}
			if err := write(filepath.Join(out, fileName(group, version, kind)), schema); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// collect copies definition name and those it references into defs, strict.
func collect(all map[string]object, name string, defs object) {
	if _, ok := defs[name]; ok {
		return
	}
	def, ok := all[name]
	if !ok {
		return
	}
	switch name {
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		defs[name] = object{"oneOf": []any{object{"type": "string"}, object{"type": "integer"}}}
		return
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		defs[name] = object{"oneOf": []any{object{"type": "string"}, object{"type": "number"}}}
		return
	}
	copied := deepCopy(def).(object)
	defs[name] = copied
	walk(copied, func(m object) {
		if ref, ok := m["$ref"].(string); ok {
			target := strings.TrimPrefix(ref, "#/definitions/")
			m["$ref"] = "#/definitions/" + target
			collect(all, target, defs)
		}
	})
	walk(copied, strict)
}

// strict closes an object schema that lists its properties.
func strict(m object) {
	if _, ok := m["properties"]; !ok {
		return
	}
	if p, _ := m["x-kubernetes-preserve-unknown-fields"].(bool); p {
		return
	}
	if _, ok := m["additionalProperties"]; !ok {
		m["additionalProperties"] = false
	}
}

// walk calls f on every schema object inside v (v included).
func walk(v any, f func(object)) {
	switch t := v.(type) {
	case object:
		f(t)
		for k, c := range t {
			if k == "enum" || k == "default" || k == "example" || k == "required" {
				continue
			}
			walk(c, f)
		}
	case []any:
		for _, c := range t {
			walk(c, f)
		}
	}
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case object:
		c := make(object, len(t))
		for k, x := range t {
			c[k] = deepCopy(x)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, x := range t {
			c[i] = deepCopy(x)
		}
		return c
	}
	return v
}

func fromCRD(path, out string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema object `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		return 0, err
	}
	if crd.Kind != "CustomResourceDefinition" {
		return 0, fmt.Errorf("kind %q, want CustomResourceDefinition", crd.Kind)
	}
	n := 0
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		walk(s, strict)
		walk(s, func(m object) {
			if m["x-kubernetes-int-or-string"] == true {
				delete(m, "type")
				delete(m, "anyOf")
				m["oneOf"] = []any{object{"type": "string"}, object{"type": "integer"}}
			}
		})
		// metadata is the API server's, not the CRD's: admit ObjectMeta's fields.
		if props, ok := s["properties"].(object); ok {
			props["metadata"] = object{"type": "object"}
		}
		s["$schema"] = "http://json-schema.org/draft-07/schema#"
		if err := write(filepath.Join(out, fileName(crd.Spec.Group, v.Name, crd.Spec.Names.Kind)), s); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func write(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
