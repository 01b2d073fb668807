package attack

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/attestd/attestd/internal/jsonlimit"
	"github.com/attestd/attestd/internal/stytchtest"
)

// nestingBudget is the size each nested request aims at: just under the
// 64 KiB request limit, so it is the depth, not the size, that is refused.
const nestingBudget = 60_000

// nestedJSON is a REST body whose session_custom_claims is nested as deep as
// fits in about nestingBudget bytes: {"a":{"a":…}} when objects, else
// {"a":[[[…]]]}.
func nestedJSON(objects bool) []byte {
	head := `{"profile_id":"trusted-token-profile-test-attack","token":"attack-token","session_custom_claims":{"a":`
	tail := `}}`
	open, inner, closing := `[`, ``, `]`
	if objects {
		open, inner, closing = `{"a":`, `1`, `}`
	}
	depth := (nestingBudget - len(head) - len(tail) - len(inner)) / (len(open) + len(closing))
	var b strings.Builder
	b.Grow(nestingBudget)
	b.WriteString(head)
	b.WriteString(strings.Repeat(open, depth))
	b.WriteString(inner)
	b.WriteString(strings.Repeat(closing, depth))
	b.WriteString(tail)
	return []byte(b.String())
}

// protobuf tags of google.protobuf.Struct, Value, ListValue and the
// Struct's map entry.
var (
	tagStructFields  = protowire.AppendTag(nil, 1, protowire.BytesType) // Struct.fields (map entry)
	tagEntryValue    = protowire.AppendTag(nil, 2, protowire.BytesType) // entry.value
	tagValueStruct   = protowire.AppendTag(nil, 5, protowire.BytesType) // Value.struct_value
	tagValueList     = protowire.AppendTag(nil, 6, protowire.BytesType) // Value.list_value
	tagListValues    = protowire.AppendTag(nil, 1, protowire.BytesType) // ListValue.values
	tagRequestClaims = protowire.AppendTag(nil, 5, protowire.BytesType) // AttestRequest.session_custom_claims
	// entryKeyA is the map entry's key "a".
	entryKeyA = protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "a")
	// nullValue is Value{null_value: NULL_VALUE}.
	nullValue = protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0)
)

// layer is one level of length-delimited nesting: prefix, then tag, then
// the length of what is inside.
type layer struct{ prefix, tag []byte }

// nestedStructMessage is an AttestRequest, as raw protobuf, whose
// session_custom_claims is a google.protobuf.Struct nested as deep as fits in
// about nestingBudget bytes: Struct→entry→Value→Struct… when objects, else a
// Struct holding Value→ListValue→Value… It is built from the lengths
// outwards and written inwards, without ever nesting a Go value, since the
// point is a depth no recursive encoder should handle.
func nestedStructMessage(objects bool) (msg []byte, messageDepth int) {
	base, err := proto.Marshal(normalRequest())
	if err != nil {
		panic(err)
	}
	cycle := []layer{{tag: tagValueList}, {tag: tagListValues}}
	if objects {
		cycle = []layer{{tag: tagValueStruct}, {tag: tagStructFields}, {prefix: entryKeyA, tag: tagEntryValue}}
	}
	// Layers are listed from the outside in. The outside is always the
	// claims field holding Struct{fields: {"a": <Value>}}; each cycle goes
	// from a Value's content back to a Value's content.
	outer := []layer{{tag: tagRequestClaims}, {tag: tagStructFields}, {prefix: entryKeyA, tag: tagEntryValue}}
	wrap := func(l layer, inner int) int {
		return len(l.prefix) + len(l.tag) + protowire.SizeVarint(uint64(inner)) + inner
	}
	outerSize := func(inner int) int {
		for i := len(outer) - 1; i >= 0; i-- {
			inner = wrap(outer[i], inner)
		}
		return inner
	}
	// sizes[i] is the size of the i innermost cycle layers around nullValue.
	sizes := []int{len(nullValue)}
	for {
		l := cycle[len(cycle)-1-(len(sizes)-1)%len(cycle)]
		next := wrap(l, sizes[len(sizes)-1])
		if len(base)+outerSize(next) > nestingBudget {
			break
		}
		sizes = append(sizes, next)
	}
	// Only whole cycles, so the innermost layer is where the cycle starts.
	n := (len(sizes) - 1) / len(cycle) * len(cycle)
	layers := make([]layer, 0, len(outer)+n)
	layers = append(layers, outer...)
	for i := range n {
		layers = append(layers, cycle[i%len(cycle)])
	}
	// inner[i] is the size inside layer i.
	inner := make([]int, len(layers))
	inner[len(layers)-1] = len(nullValue)
	for i := len(layers) - 1; i > 0; i-- {
		inner[i-1] = wrap(layers[i], inner[i])
	}
	msg = make([]byte, 0, len(base)+wrap(layers[0], inner[0]))
	msg = append(msg, base...)
	for i, l := range layers {
		msg = append(msg, l.prefix...)
		msg = append(msg, l.tag...)
		msg = protowire.AppendVarint(msg, uint64(inner[i]))
	}
	msg = append(msg, nullValue...)
	return msg, len(layers)
}

// namesDepthLimit reports whether an error message names the nesting limit:
// it speaks of nesting or depth and gives jsonlimit.MaxDepth.
func namesDepthLimit(msg string) bool {
	msg = strings.ToLower(msg)
	return (strings.Contains(msg, "nest") || strings.Contains(msg, "depth")) &&
		strings.Contains(msg, strconv.Itoa(jsonlimit.MaxDepth))
}

// TestNestingAmplification attacks the decoders with depth: 64 concurrent
// REST bodies of about 60 KB whose session_custom_claims are nested as deep
// as the size allows ({"a":{"a":…}} and [[[…]]], alternately), and at the
// same time 64 gRPC messages whose session_custom_claims is a
// google.protobuf.Struct nested thousands deep (raw protobuf bytes sent with
// a raw codec), for a bounded number of rounds. Must hold: each is refused
// with 400 bad_request / InvalidArgument naming the depth limit; attestd's
// peak RSS (VmHWM) stays within 128 MiB of its idle RSS measured before the
// attack; and normal calls with a normal deadline, made concurrently with the
// attack, are answered.
func TestNestingAmplification(t *testing.T) {
	fake := stytchtest.NewServer(t)
	tg := start(t, fake)
	rounds := size(4, 1000)
	const concurrency = 64

	jsonBodies := [2][]byte{nestedJSON(true), nestedJSON(false)}
	var protoMsgs [2][]byte
	var depths [2]int
	protoMsgs[0], depths[0] = nestedStructMessage(true)
	protoMsgs[1], depths[1] = nestedStructMessage(false)
	t.Logf("REST bodies %d and %d bytes; gRPC messages %d bytes (%d message levels) and %d bytes (%d levels)",
		len(jsonBodies[0]), len(jsonBodies[1]), len(protoMsgs[0]), depths[0], len(protoMsgs[1]), depths[1])

	tg.normalCalls(t, "before the attack")
	_, idle := memory(t, tg.pid)
	budget := size(90*time.Second, 10*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	// Normal calls meanwhile, alternating protocols.
	attackDone := make(chan struct{})
	var normalOK, normalFailed atomic.Int64
	var normalWG sync.WaitGroup
	normalWG.Add(1)
	go func() {
		defer normalWG.Done()
		for i := 0; i < 10_000; i++ {
			select {
			case <-attackDone:
				return
			default:
			}
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			var err error
			if i%2 == 0 {
				if r := tg.rest(cctx, []byte(normalBody)); r.err != nil || r.status != http.StatusOK {
					t.Errorf("a normal REST call during the attack: %v", r)
					err = r.err
					normalFailed.Add(1)
				}
			} else if _, err = tg.client.Attest(cctx, normalRequest()); err != nil {
				t.Errorf("a normal gRPC call during the attack: %v", decodeStatus(err))
				normalFailed.Add(1)
			}
			ccancel()
			if err == nil {
				normalOK.Add(1)
			}
		}
	}()

	var restWrong, grpcWrong, refused atomic.Int64
	report := func(counter *atomic.Int64, format string, args ...any) {
		if counter.Add(1) <= 3 {
			t.Errorf(format, args...)
		}
	}
	begin := time.Now()
	for round := 0; round < rounds && ctx.Err() == nil; round++ {
		var wg sync.WaitGroup
		for i := range concurrency {
			wg.Add(2)
			go func() {
				defer wg.Done()
				r := tg.rest(ctx, jsonBodies[i%2])
				e, shape := r.stytchError()
				if r.status != http.StatusBadRequest || e.ErrorType != "bad_request" || shape != "" {
					report(&restWrong, "nested REST body: %v, want 400 bad_request %s", r, shape)
					return
				}
				if !namesDepthLimit(e.ErrorMessage) {
					report(&restWrong, "nested REST body refused without naming the depth limit: %.300s", r.body)
					return
				}
				refused.Add(1)
			}()
			go func() {
				defer wg.Done()
				cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
				defer ccancel()
				g := decodeStatus(tg.invokeRaw(cctx, protoMsgs[i%2]))
				if g.code != codes.InvalidArgument {
					report(&grpcWrong, "nested gRPC Struct: %v, want InvalidArgument", g)
					return
				}
				if !namesDepthLimit(g.st.Message()) {
					report(&grpcWrong, "nested gRPC Struct refused without naming the depth limit: %v", g)
					return
				}
				refused.Add(1)
			}()
		}
		wg.Wait()
	}
	took := time.Since(begin)
	close(attackDone)
	normalWG.Wait()
	hwm, rss := memory(t, tg.pid)

	t.Logf("%d rounds × %d REST + %d gRPC nested requests in %s: %d refused as required, %d REST and %d gRPC answered otherwise",
		rounds, concurrency, concurrency, took.Round(time.Millisecond), refused.Load(), restWrong.Load(), grpcWrong.Load())
	t.Logf("RSS idle %s, peak (VmHWM) %s, after %s; %d normal calls answered meanwhile, %d failed",
		mib(idle), mib(hwm), mib(rss), normalOK.Load(), normalFailed.Load())
	if growth := hwm - idle; growth > 128<<20 {
		t.Errorf("peak RSS %s is %s above the idle %s: over the 128 MiB bound", mib(hwm), mib(growth), mib(idle))
	}
	if normalOK.Load() == 0 {
		t.Errorf("no normal call was answered during the attack")
	}
	if want := normalOK.Load() + normalFailed.Load() + 2; fake.Calls() > want {
		t.Errorf("Stytch saw %d calls, more than the %d normal ones: a nested request reached it", fake.Calls(), want)
	}
}
