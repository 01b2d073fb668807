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

	if _, ok := doc.Paths["/v1/b2b/sessions/jwks/{project_id}"]["get"]; !ok {
		t.Errorf("no GET /v1/b2b/sessions/jwks/{project_id} in the document: %v", doc.Paths)
	}
	// Requests whose fields are all bound to the path have no definition.
	pathOnly := map[string]bool{"stytch.b2b.session.v1.GetJwksRequest": true}

	messages := stytchMessages()
	checked := 0
	for name, md := range messages {
		def, ok := doc.Definitions[name]
		if !ok && pathOnly[string(md.FullName())] {
			continue // every field is a path variable: no body, no schema
		}
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

// stytchMessages are every message of the stytch.* packages, by short name.
func stytchMessages() map[string]protoreflect.MessageDescriptor {
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
	return messages
}

// wireKeys are a message's JSON keys, sorted.
func wireKeys(md protoreflect.MessageDescriptor) []string {
	keys := make([]string, 0, md.Fields().Len())
	for i := range md.Fields().Len() {
		keys = append(keys, md.Fields().Get(i).JSONName())
	}
	slices.Sort(keys)
	return keys
}

// TestOpenAPIv3MatchesWireNames: the OpenAPI 3.1 document (grpc-gateway's
// v3 generator, one per proto file) names exactly the wire keys too, for the
// request body and every schema.
func TestOpenAPIv3MatchesWireNames(t *testing.T) {
	raw, err := os.ReadFile("../../gen/openapi/v3/stytch/b2b/session/v1/session.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema schema `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	messages := stytchMessages()
	keysOf := func(s schema) []string {
		keys := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	body := doc.Paths["/v1/b2b/sessions/attest"]["post"].RequestBody.Content["application/json"].Schema
	if got, want := keysOf(body), wireKeys(messages["AttestRequest"]); !slices.Equal(got, want) {
		t.Errorf("request body properties %v, wire keys %v", got, want)
	}
	checked := 0
	for full, s := range doc.Components.Schemas {
		name := full[strings.LastIndex(full, ".")+1:]
		md, ok := messages[name]
		if !ok || string(md.FullName()) != full {
			t.Errorf("schema %s is no stytch message", full)
			continue
		}
		if got, want := keysOf(s), wireKeys(md); !slices.Equal(got, want) {
			t.Errorf("%s: properties %v, wire keys %v", full, got, want)
		}
		checked++
	}
	if checked < 35 {
		t.Errorf("only %d schemas checked", checked)
	}
}
