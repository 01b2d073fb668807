// Package verbatim hands Stytch's own bytes of a successful answer from the
// upstream client to the REST gateway, so that REST callers get exactly the
// JSON Stytch sent (its nulls, keys the protobuf mirror does not know yet,
// its spelling of numbers and times) while the answer is still decoded into
// the mirror, which is what judges it valid and what audit, metrics and the
// gRPC answer use.
//
// The hand-over is built so that bytes can only ever be served as the answer
// they came with:
//
//   - a Slot lives in one REST call's context, made by the gateway for that
//     call alone: no other call can see it, and gRPC calls have none, so
//     their answers never carry Stytch's bytes (nothing is kept inside the
//     message, where it would travel to gRPC callers as unknown fields);
//   - Keep binds the bytes to the message decoded from them, by pointer;
//     Bytes gives them back only for that same message. An answer replaced
//     on its way (by an interceptor, say) is a different message and is
//     rendered by the encoder; whoever moves the answer into another message
//     without changing it (inproc.Direct) says so with Moved.
//
// Code between the upstream client and the gateway must not change the
// answer in place; attestd's chain does not (the gateway's tests hold REST
// bodies to Stytch's bytes).
package verbatim

import (
	"context"
	"sync"

	"google.golang.org/protobuf/proto"
)

// Slot receives one REST call's verbatim answer.
type Slot struct {
	mu       sync.Mutex
	msg      proto.Message
	raw      []byte
	release  func()
	released bool
}

type slotKey struct{}

// WithSlot returns ctx carrying a new, empty Slot for one call, and the
// Slot.
func WithSlot(ctx context.Context) (context.Context, *Slot) {
	s := &Slot{}
	return context.WithValue(ctx, slotKey{}, s), s
}

// Keep records raw as the verbatim form of msg, the answer just decoded and
// judged valid from it, if ctx belongs to a call that has a Slot (a REST
// call) that has not been released. It reports whether it did: then raw
// belongs to the Slot, which calls release (when not nil) once the call is
// over (Release), and raw must not change before that; otherwise raw is
// still the caller's.
func Keep(ctx context.Context, msg proto.Message, raw []byte, release func()) bool {
	s, _ := ctx.Value(slotKey{}).(*Slot)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		// The call is over: an attempt that outlived its caller.
		return false
	}
	if s.release != nil {
		s.release() // a second answer for the call replaces the first
	}
	s.msg, s.raw, s.release = msg, raw, release
	return true
}

// Release ends the Slot's life with its call's: the bytes it holds are
// handed back (to the upstream client's buffer pool) and nothing is kept
// afterwards. The gateway calls it once the answer has been written; a nil
// Slot and a second call do nothing.
func (s *Slot) Release() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	if s.release != nil {
		s.release()
	}
	s.msg, s.raw, s.release = nil, nil, nil
}

// Moved tells the call's Slot that the answer from has been moved, unchanged,
// into to (which now alone holds it); the bytes follow it. If from is not the
// kept answer, nothing changes.
func Moved(ctx context.Context, from, to proto.Message) {
	s, _ := ctx.Value(slotKey{}).(*Slot)
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.msg == from {
		s.msg = to
	}
	s.mu.Unlock()
}

// Bytes returns the verbatim bytes of msg: Stytch's body, if msg is the
// answer that was decoded from it for this call. ok is false for any other
// message.
func (s *Slot) Bytes(msg proto.Message) (raw []byte, ok bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.msg == nil || s.msg != msg {
		return nil, false
	}
	return s.raw, true
}

// From returns the Slot of ctx's call (nil for none).
func From(ctx context.Context) *Slot {
	s, _ := ctx.Value(slotKey{}).(*Slot)
	return s
}
