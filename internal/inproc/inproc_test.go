package inproc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/inproc"
	"github.com/attestd/attestd/internal/middleware"
)

// service answers Attest with what it saw of the call.
type service struct {
	b2bsessionv1.UnimplementedSessionServiceServer
}

func (service) Attest(ctx context.Context, req *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	if req.GetToken() == "fail" {
		return nil, status.Error(codes.NotFound, "no such member")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	p, _ := peer.FromContext(ctx)
	_, inProcess := p.AuthInfo.(middleware.ForwardedAuthInfo)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-seen", strings.Join(md.Get("x-caller"), ",")))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t"))
	method, _ := grpc.Method(ctx)
	status := int32(0)
	if inProcess {
		status = 200
	}
	return &b2bsessionv1.AttestResponse{MemberId: req.GetProfileId() + "|" + method, StatusCode: status}, nil
}

// direct is a Direct serving service through the interceptors.
func direct(interceptors ...grpc.UnaryServerInterceptor) *inproc.Direct {
	chain := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		for i := len(interceptors) - 1; i >= 0; i-- {
			next, ic := h, interceptors[i]
			h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
		}
		return h(ctx, req)
	}
	d := inproc.NewDirect(chain, 1024)
	b2bsessionv1.RegisterSessionServiceServer(d, service{})
	return d
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestDirectCall: metadata in, headers and trailers out, the in-process
// peer, the method name, the interceptor chain, the answer copied back.
func TestDirectCall(t *testing.T) {
	var intercepted string
	client := b2bsessionv1.NewSessionServiceClient(direct(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		intercepted = info.FullMethod
		return h(ctx, req)
	}))
	var header, trailer metadata.MD
	c := metadata.AppendToOutgoingContext(ctx(t), "x-caller", "svc-a")
	resp, err := client.Attest(c, &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	const method = "/stytch.b2b.session.v1.SessionService/Attest"
	if resp.GetMemberId() != "p|"+method || resp.GetStatusCode() != 200 {
		t.Errorf("answer %v: want the request's profile, the method and an in-process peer", resp)
	}
	if intercepted != method {
		t.Errorf("interceptor saw %q", intercepted)
	}
	if got := header.Get("x-seen"); len(got) != 1 || got[0] != "svc-a" {
		t.Errorf("header %v: the caller's metadata did not reach the handler", header)
	}
	if got := trailer.Get("x-trailer"); len(got) != 1 {
		t.Errorf("trailer %v", trailer)
	}
}

func TestDirectErrors(t *testing.T) {
	d := direct()
	client := b2bsessionv1.NewSessionServiceClient(d)
	if _, err := client.Attest(ctx(t), &b2bsessionv1.AttestRequest{Token: "fail"}); status.Code(err) != codes.NotFound {
		t.Errorf("handler error: %v", err)
	}
	big := &b2bsessionv1.AttestRequest{Token: strings.Repeat("x", 2048)}
	if _, err := client.Attest(ctx(t), big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("request over the size limit: %v", err)
	}
	if err := d.Invoke(ctx(t), "/no.Such/Method", &b2bsessionv1.AttestRequest{}, &b2bsessionv1.AttestResponse{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown method: %v", err)
	}
	if _, err := d.NewStream(ctx(t), &grpc.StreamDesc{}, "/x/y"); status.Code(err) != codes.Unimplemented {
		t.Errorf("stream: %v", err)
	}
}
