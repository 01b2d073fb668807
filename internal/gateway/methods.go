package gateway

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/apierr"
)

// route is one REST route: its path template (segments, "*" for a
// {variable}) and the methods it answers.
type route struct {
	segments []string
	methods  []string
}

// routes are the REST routes, read from the services' google.api.http
// rules, the same rules grpc-gateway registers, so a new RPC needs no edit
// here.
var routes = routesOf(b2bsessionv1.File_stytch_b2b_session_v1_session_proto.Services())

func routesOf(services protoreflect.ServiceDescriptors) []route {
	byPath := map[string]*route{}
	var order []string
	for i := range services.Len() {
		methods := services.Get(i).Methods()
		for j := range methods.Len() {
			rule, _ := proto.GetExtension(methods.Get(j).Options(), annotations.E_Http).(*annotations.HttpRule)
			for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				method, path := httpBinding(b)
				if path == "" {
					continue
				}
				r := byPath[path]
				if r == nil {
					r = &route{segments: templateSegments(path)}
					byPath[path] = r
					order = append(order, path)
				}
				r.methods = append(r.methods, method)
				if method == http.MethodGet {
					r.methods = append(r.methods, http.MethodHead)
				}
			}
		}
	}
	out := make([]route, 0, len(order))
	for _, p := range order {
		r := byPath[p]
		r.methods = append(r.methods, http.MethodOptions)
		out = append(out, *r)
	}
	return out
}

// httpBinding is a rule's method and path template.
func httpBinding(b *annotations.HttpRule) (method, path string) {
	switch {
	case b.GetGet() != "":
		return http.MethodGet, b.GetGet()
	case b.GetPost() != "":
		return http.MethodPost, b.GetPost()
	case b.GetPut() != "":
		return http.MethodPut, b.GetPut()
	case b.GetPatch() != "":
		return http.MethodPatch, b.GetPatch()
	case b.GetDelete() != "":
		return http.MethodDelete, b.GetDelete()
	}
	return "", ""
}

// templateSegments splits a path template, a {variable} matching any one
// segment.
func templateSegments(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "*"
		}
	}
	return segs
}

// allowed returns the methods path answers (nil: no such route).
func allowed(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range routes {
		if len(r.segments) != len(segs) {
			continue
		}
		match := true
		for i, s := range r.segments {
			if s != "*" && s != segs[i] {
				match = false
				break
			}
		}
		if match {
			return r.methods
		}
	}
	return nil
}

// methods answers what the generated routes do not: OPTIONS on a route
// (204 with Allow), HEAD on a GET route (the GET's headers, no body), and a
// body that is not JSON (415); routingError sets Allow on 405s.
func methods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodOptions:
			if m := allowed(r.URL.Path); m != nil {
				w.Header().Set("Allow", strings.Join(m, ", "))
				w.WriteHeader(http.StatusNoContent)
				return
			}
		case http.MethodHead:
			if slices.Contains(allowed(r.URL.Path), http.MethodGet) {
				r = r.Clone(r.Context())
				r.Method = http.MethodGet
				w = headWriter{w}
			}
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			if ct := r.Header.Get("Content-Type"); !jsonBody(ct) && slices.Contains(allowed(r.URL.Path), r.Method) {
				refuse(w, r, apierr.UnsupportedMediaType.New(fmt.Sprintf(
					"Content-Type %q is not JSON: send the body as application/json (curl: --json, or -H 'Content-Type: application/json')", ct)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// headWriter answers HEAD as GET would, without the body.
type headWriter struct{ http.ResponseWriter }

func (h headWriter) Write(b []byte) (int, error) { return len(b), nil }

// jsonBody reports whether a request body's Content-Type is JSON, or absent
// (Stytch's SDKs send application/json; a bare body is taken as JSON).
// Anything else — curl -d's form encoding, text/plain, XML — is refused
// with 415, rather than parsed as JSON by accident.
func jsonBody(contentType string) bool {
	if contentType == "" || contentType == "application/json" {
		return true // what Stytch's SDKs send: no parse on the Attest path
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
