// Command goclient is a minimal Go client of attestd: it reads an Attest
// request as JSON on stdin, calls attestd over gRPC with the generated Go
// stubs, and prints the session, or the Stytch error carried in the status.
//
//	go run ./cmd/attestd demo-token --request | go run ./examples/goclient -addr localhost:50051
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
)

func main() {
	addr := flag.String("addr", "localhost:50051", "attestd's gRPC address")
	flag.Parse()
	if err := run(*addr, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

func run(addr string, in io.Reader, out io.Writer) error {
	body, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	req := &b2bsessionv1.AttestRequest{}
	if err := protojson.Unmarshal(body, req); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, err := b2bsessionv1.NewSessionServiceClient(conn).Attest(ctx, req)
	if err != nil {
		// Every attestd error carries Stytch's error object in its details.
		st := status.Convert(err)
		for _, d := range st.Details() {
			if e, ok := d.(*errorv1.StytchError); ok {
				return fmt.Errorf("%s: %s (%d %s, request %s)", st.Code(), e.GetErrorMessage(), e.GetStatusCode(), e.GetErrorType(), e.GetRequestId())
			}
		}
		return err
	}
	s := resp.GetMemberSession()
	fmt.Fprintf(out, "member %s (%s) of %s: session %s until %s, %d factor(s)\n",
		resp.GetMemberId(), resp.GetMember().GetEmailAddress(), resp.GetOrganization().GetOrganizationName(),
		s.GetMemberSessionId(), s.GetExpiresAt().AsTime().Format(time.RFC3339), len(s.GetAuthenticationFactors()))
	return nil
}
