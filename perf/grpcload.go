package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
)

// loadResult is what a load run measured.
type loadResult struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	// FirstError is the first failed call's error, for the report.
	FirstError string `json:"first_error,omitempty"`
}

// runGRPCLoad calls Attest from c workers over one connection for d, and
// prints a loadResult as JSON.
func runGRPCLoad(args []string) error {
	fs := flag.NewFlagSet("grpc-load", flag.ContinueOnError)
	addr := fs.String("addr", "", "attestd's gRPC address")
	conc := fs.Int("c", 16, "concurrent callers")
	dur := fs.Duration("d", 10*time.Second, "duration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := b2bsessionv1.NewSessionServiceClient(conn)
	req := &b2bsessionv1.AttestRequest{ProfileId: "trusted-token-profile-test-perf", Token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}

	// The run ends by the clock, not by a shared deadline: calls sent near a
	// shared deadline would fail fast server-side and count as errors.
	end := time.Now().Add(*dur)
	var mu sync.Mutex
	var all []time.Duration
	var errs int64
	var firstErr string
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			var e int64
			for time.Now().Before(end) {
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := client.Attest(ctx, req)
				cancel()
				if err != nil {
					if e++; e == 1 {
						mu.Lock()
						if firstErr == "" {
							firstErr = err.Error()
						}
						mu.Unlock()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	r := loadResult{Requests: int64(len(all)), Errors: errs, RPS: float64(len(all)) / elapsed.Seconds(), FirstError: firstErr}
	if len(all) > 0 {
		r.P50us = float64(all[len(all)/2].Microseconds())
		r.P99us = float64(all[len(all)*99/100].Microseconds())
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
