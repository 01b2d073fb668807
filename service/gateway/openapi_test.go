package gateway_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1" // registers every stytch.* message
)

// TestOpenAPIMatchesWireNames: the committed OpenAPI document describes
// exactly the JSON keys the gateway speaks, for every message.
func TestOpenAPIMatchesWireNames(t *testing.T) {
	raw, err := os.ReadFile("../../gen/openapi/attestd.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths       map[string]map[string]json.RawMessage `json:"paths"`
		Definitions map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Paths["/v1/b2b/sessions/attest"]["post"]; !ok {
		t.Errorf("no POST /v1/b2b/sessions/attest in the document: %v", doc.Paths)
	}

	messages := map[string]protoreflect.MessageDescriptor{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "stytch.") {
			for i := range fd.Messages().Len() {
				md := fd.Messages().Get(i)
				messages[string(md.Name())] = md
			}
		}
		return true
	})
	checked := 0
	for name, md := range messages {
		def, ok := doc.Definitions[name]
		if !ok {
			t.Errorf("message %s has no OpenAPI definition", md.FullName())
			continue
		}
		var want, got []string
		for i := range md.Fields().Len() {
			want = append(want, md.Fields().Get(i).JSONName())
		}
		for k := range def.Properties {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: OpenAPI properties %v, wire keys %v", name, got, want)
		}
		checked++
	}
	if checked < 35 {
		t.Errorf("only %d messages checked", checked)
	}
}
