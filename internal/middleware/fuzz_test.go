package middleware_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/translate"
	"github.com/attestd/attestd/internal/upstream"
)

// FuzzRequestValidation feeds arbitrary REST bodies through what a request
// meets before Stytch: the gateway's JSON decoding, the whole interceptor
// chain (validation included) and the upstream body encoding. Whatever the
// input, nothing panics; a refusal is always InvalidArgument carrying a
// StytchError; and a request that passes is encoded into a JSON body whose
// required fields survive.
func FuzzRequestValidation(f *testing.F) {
	for _, seed := range []string{
		`{"profile_id":"p","token":"t"}`,
		`{"profile_id":"p","token":"t","organization_id":"organization-test-1","session_duration_minutes":60}`,
		`{"profile_id":"p","token":"t","session_duration_minutes":4}`,
		`{"profile_id":"p","token":"t","session_token":"a","session_jwt":"b"}`,
		`{"profile_id":"p","token":"t","session_custom_claims":{"a":[1,2,{"b":null}],"c":"d"}}`,
		`{"profile_id":"","token":""}`,
		`{"unknown":1}`,
		`[]`,
		`{"profile_id":"p","token":"t","session_duration_minutes":1e99}`,
	} {
		f.Add([]byte(seed))
	}
	v := validator(f)
	chain := middleware.Default(slog.New(slog.DiscardHandler), v, middleware.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := &b2bsessionv1.AttestRequest{}
		if err := translate.RequestUnmarshalOptions.Unmarshal(body, req); err != nil {
			return // the gateway answers 400 before the chain runs
		}
		var encoded []byte
		_, err := run(context.Background(), chain, req, func(_ context.Context, r any) (any, error) {
			var err error
			encoded, err = upstream.EncodeRequest(r.(*b2bsessionv1.AttestRequest))
			return &b2bsessionv1.AttestResponse{}, err
		})
		if err != nil {
			st, _ := status.FromError(err)
			if body, _ := apierr.Details(st); st.Code() != codes.InvalidArgument || body == nil {
				t.Fatalf("refusal %v lacks InvalidArgument + StytchError", err)
			}
			return
		}
		var sent map[string]any
		if err := json.Unmarshal(encoded, &sent); err != nil {
			t.Fatalf("encoded body is not JSON: %v", err)
		}
		if sent["profile_id"] != req.GetProfileId() || sent["token"] != req.GetToken() {
			t.Fatalf("encoded body lost the required fields: %s", encoded)
		}
		if _, err := protojson.Marshal(req); err != nil {
			t.Fatalf("valid request does not marshal: %v", err)
		}
	})
}
