package inproc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	organizationv1 "github.com/attestd/attestd/gen/go/stytch/organization/v1"
	"github.com/attestd/attestd/internal/inproc"
	"github.com/attestd/attestd/internal/verbatim"
)

// keeper answers with one fixed message, kept with its "Stytch bytes".
type keeper struct {
	b2bsessionv1.UnimplementedSessionServiceServer
	answer *b2bsessionv1.AttestResponse
}

func (k keeper) Attest(ctx context.Context, _ *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	verbatim.Keep(ctx, k.answer, []byte(`{"stytch":"bytes"}`), nil)
	return k.answer, nil
}

// TestAnswerMovedNotCopied: the caller's reply gets the handler's answer
// without a deep copy (nested messages are the same), and the answer's
// verbatim bytes follow it; an answer an interceptor replaced does not get
// them.
func TestAnswerMovedNotCopied(t *testing.T) {
	answer := &b2bsessionv1.AttestResponse{
		RequestId:     "r",
		MemberSession: &b2bsessionv1.MemberSession{MemberSessionId: "s"},
		Member:        &organizationv1.Member{MemberId: "m"},
	}
	pass := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	}
	replace := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		return proto.Clone(resp.(proto.Message)), err
	}
	for _, tc := range []struct {
		name      string
		chain     grpc.UnaryServerInterceptor
		wantBytes bool
	}{{"unchanged", pass, true}, {"replaced by an interceptor", replace, false}} {
		t.Run(tc.name, func(t *testing.T) {
			d := inproc.NewDirect(tc.chain, 1024)
			b2bsessionv1.RegisterSessionServiceServer(d, keeper{answer: answer})
			c, slot := verbatim.WithSlot(ctx(t))
			reply, err := b2bsessionv1.NewSessionServiceClient(d).Attest(c, &b2bsessionv1.AttestRequest{ProfileId: "p", Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(reply, answer) {
				t.Errorf("reply %v, want %v", reply, answer)
			}
			if shared := reply.GetMemberSession() == answer.GetMemberSession(); shared != tc.wantBytes {
				t.Errorf("member_session shared: %v, want %v", shared, tc.wantBytes)
			}
			if raw, ok := slot.Bytes(reply); ok != tc.wantBytes || (ok && string(raw) != `{"stytch":"bytes"}`) {
				t.Errorf("bytes for the reply: %q %v, want %v", raw, ok, tc.wantBytes)
			}
		})
	}
}
