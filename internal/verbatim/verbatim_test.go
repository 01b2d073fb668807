package verbatim_test

import (
	"context"
	"testing"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/verbatim"
)

// TestHandOver: the bytes come back only for the message kept with them,
// in the call that kept them, and follow a move; other calls, calls with
// no slot and other messages get nothing.
func TestHandOver(t *testing.T) {
	raw := []byte(`{"request_id":"r"}`)
	answer, other, moved := &b2bsessionv1.AttestResponse{}, &b2bsessionv1.AttestResponse{}, &b2bsessionv1.AttestResponse{}

	ctx, slot := verbatim.WithSlot(context.Background())
	otherCtx, otherSlot := verbatim.WithSlot(context.Background())
	verbatim.Keep(ctx, answer, raw, nil)
	verbatim.Keep(context.Background(), other, []byte("no slot: dropped"), nil) // a gRPC call

	cases := []struct {
		name string
		slot *verbatim.Slot
		msg  *b2bsessionv1.AttestResponse
		ok   bool
	}{
		{"the kept answer", slot, answer, true},
		{"another message", slot, other, false},
		{"another call's slot", otherSlot, answer, false},
		{"no slot", nil, answer, false},
	}
	for _, tc := range cases {
		if got, ok := tc.slot.Bytes(tc.msg); ok != tc.ok || (ok && string(got) != string(raw)) {
			t.Errorf("%s: %q %v, want ok=%v", tc.name, got, ok, tc.ok)
		}
	}

	verbatim.Moved(otherCtx, answer, moved) // not that call's answer
	if _, ok := otherSlot.Bytes(moved); ok {
		t.Error("a move in another call carried bytes over")
	}
	verbatim.Moved(ctx, other, moved) // not the kept answer: nothing moves
	if _, ok := slot.Bytes(moved); ok {
		t.Error("moving another message carried the bytes")
	}
	verbatim.Moved(ctx, answer, moved)
	if got, ok := slot.Bytes(moved); !ok || string(got) != string(raw) {
		t.Errorf("after the move: %q %v", got, ok)
	}
	if _, ok := slot.Bytes(answer); ok {
		t.Error("the bytes still belong to the message moved from")
	}
	if verbatim.From(context.Background()) != nil || verbatim.From(ctx) != slot {
		t.Error("From finds the wrong slot")
	}
}

// TestRelease: the slot hands its bytes back exactly once, when the call is
// over; an answer that comes after that (an attempt that outlived its
// caller) is not kept, so its bytes stay its reader's; a second answer
// releases the first's.
func TestRelease(t *testing.T) {
	ctx, slot := verbatim.WithSlot(context.Background())
	var first, second, late int
	answer := &b2bsessionv1.AttestResponse{}
	if !verbatim.Keep(ctx, answer, []byte("1"), func() { first++ }) {
		t.Fatal("not kept")
	}
	if !verbatim.Keep(ctx, answer, []byte("2"), func() { second++ }) || first != 1 {
		t.Fatalf("second answer: first released %d times", first)
	}
	if got, ok := slot.Bytes(answer); !ok || string(got) != "2" {
		t.Fatalf("holds %q %v", got, ok)
	}
	slot.Release()
	slot.Release()
	if first != 1 || second != 1 {
		t.Errorf("released %d and %d times, want once each", first, second)
	}
	if _, ok := slot.Bytes(answer); ok {
		t.Error("bytes served after release")
	}
	if verbatim.Keep(ctx, answer, []byte("3"), func() { late++ }) || late != 0 {
		t.Error("an answer after release was kept")
	}
	if verbatim.Keep(context.Background(), answer, []byte("4"), nil) {
		t.Error("kept without a slot")
	}
	(*verbatim.Slot)(nil).Release() // no slot: nothing to do
}
