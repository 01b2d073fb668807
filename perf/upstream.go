package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/attestd/attestd/internal/stytchtest"
)

// runUpstream serves Stytch's typical attest answer to every request, as
// fast as net/http can: the same bytes, no decoding of the request.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := stytchtest.Typical()
	length := strconv.Itoa(len(body))
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", lis.Addr().String()) // the harness reads this line
	return http.Serve(lis, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	}))
}
