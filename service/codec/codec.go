// Package codec is attestd's gRPC server codec: protobuf, as grpc-go's own,
// except that request nesting is bounded and a request that fails to decode
// reaches the interceptor chain as InvalidArgument.
//
// grpc-go decodes a request before any interceptor runs and answers a codec
// error with Internal, so such calls would be neither logged nor counted,
// and a deeply nested google.protobuf.Struct would cost its full recursion
// (grpc-go allows 10 000 levels) before anything could refuse it. This codec
// instead decodes under a recursion limit equivalent to jsonlimit.MaxDepth
// and, when decoding fails, empties the message, records the failure against
// it and returns nil; the chain's "decode" interceptor (UnaryServerInterceptor)
// then answers the call with that failure. Streams get the failure from
// RecvMsg, through StreamServerInterceptor.
package codec

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/attestd/attestd/service/apierr"
	"github.com/attestd/attestd/service/jsonlimit"
)

// Name is the codec's name: it replaces grpc-go's "proto" codec.
const Name = "proto"

// Recursion limits, in protobuf message levels. google.golang.org/protobuf
// counts every message it enters, map entries included, so one JSON level
// of claims costs two message levels as an array (Value, ListValue) and
// three as an object (map entry, Value, Struct); TestRecursionCalibration
// holds these numbers to the decoder.
const (
	// fastLimit is where a request of attestd's nests at most MaxDepth
	// JSON levels whatever its shape: the request is level 1 (message
	// level 1), its claims Struct level 2 (message level 2), and every
	// level after costs at least two message levels, so JSON level
	// MaxDepth+1 starts at message level 2·MaxDepth+1.
	fastLimit = 2 * jsonlimit.MaxDepth
	// slowLimit is the most message levels MaxDepth JSON levels can take:
	// objects in objects, with a scalar Value at the bottom. Requests
	// between the two limits are decoded again under this one and measured
	// in JSON levels (jsonDepth).
	slowLimit = 3*jsonlimit.MaxDepth - 2
)

var (
	fastOptions = proto.UnmarshalOptions{RecursionLimit: fastLimit}
	slowOptions = proto.UnmarshalOptions{RecursionLimit: slowLimit}
)

// Codec is the server codec (encoding.CodecV2), installed with
// grpc.ForceServerCodecV2(codec.Codec{}). It handles any protobuf message,
// gRPC's own health and reflection ones included.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name implements encoding.CodecV2.
func (Codec) Name() string { return Name }

// Marshal is grpc-go's protobuf marshalling, unchanged: answers are
// attestd's own and need no bound.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	m := messageOf(v)
	if m == nil {
		return nil, fmt.Errorf("codec: cannot marshal %T, want a proto.Message", v)
	}
	// The Size call lets UseCachedSize skip a second sizing pass; the
	// message is not mutated in between.
	size := proto.Size(m)
	opts := proto.MarshalOptions{UseCachedSize: true}
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := opts.MarshalAppend((*buf)[:0], m); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes data into v within the nesting limit. When decoding
// fails it resets v, records the failure for Take and returns nil, so that
// the call reaches the interceptor chain; it returns an error only when v
// is not a protobuf message at all (a bug, which grpc-go answers Internal).
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m := messageOf(v)
	if m == nil {
		return fmt.Errorf("codec: cannot unmarshal into %T, want a proto.Message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	if err := decode(buf.ReadOnlyData(), m); err != nil {
		proto.Reset(m) // nothing half-decoded goes further
		failures.record(v, err)
	}
	return nil
}

// decode unmarshals b into m, refusing nesting beyond jsonlimit.MaxDepth
// JSON levels. Requests within fastLimit message levels (all real ones)
// decode once; deeper ones are decoded again under slowLimit and measured.
func decode(b []byte, m proto.Message) error {
	err := fastOptions.Unmarshal(b, m)
	if err == nil {
		return nil
	}
	if !isRecursion(err) {
		return invalid(err)
	}
	if err := slowOptions.Unmarshal(b, m); err != nil {
		return invalid(err)
	}
	if jsonDepth(m.ProtoReflect()) > jsonlimit.MaxDepth {
		return tooDeep(err)
	}
	return nil
}

// isRecursion tells protobuf's recursion-limit error, which has no exported
// sentinel, from the others (TestErrorClassification pins the text).
func isRecursion(err error) bool {
	return strings.Contains(err.Error(), "exceeded maximum recursion depth")
}

// invalid is a decode failure as the caller sees it. The messages are
// fixed texts: protobuf's own never quote the input today, but the caller's
// bytes may hold a token, so nothing of them is ever passed on.
func invalid(err error) *apierr.Error {
	switch {
	case isRecursion(err):
		return tooDeep(err)
	case strings.Contains(err.Error(), "invalid UTF-8"):
		return apierr.BadRequest.Wrap(err, "request is not a valid protobuf message: invalid UTF-8 in a string field")
	}
	return apierr.BadRequest.Wrap(err, "request is not a valid protobuf message: cannot parse invalid wire-format data")
}

// tooDeep is the nesting refusal, naming the limit as REST does.
func tooDeep(cause error) *apierr.Error {
	de := &jsonlimit.DepthError{Limit: jsonlimit.MaxDepth}
	return apierr.BadRequest.Wrap(fmt.Errorf("%w (%w)", de, cause),
		"invalid request: "+de.Error()+" (google.protobuf.Struct and ListValue values, the request message being level 1)")
}

func messageOf(v any) proto.Message {
	switch v := v.(type) {
	case protoadapt.MessageV2:
		return v
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(v)
	}
	return nil
}

// failures holds decode failures from Unmarshal until the chain takes them,
// keyed by the message grpc-go decoded into (the request the interceptor is
// handed). Holding the key keeps the message alive, so its address cannot be
// reused by another call while an entry exists. pending lets the happy path
// cost one atomic load.
var failures pendingFailures

type pendingFailures struct {
	pending atomic.Int64
	byMsg   sync.Map // message pointer → *apierr.Error
}

func (p *pendingFailures) record(v any, err error) {
	p.byMsg.Store(v, err)
	p.pending.Add(1)
}

// Take returns the decode failure recorded for req and forgets it; nil
// when req decoded (or never went through the codec: REST calls).
func Take(req any) error {
	if failures.pending.Load() == 0 {
		return nil
	}
	err, ok := failures.byMsg.LoadAndDelete(req)
	if !ok {
		return nil
	}
	failures.pending.Add(-1)
	return err.(error)
}

// Pending is the number of recorded failures not yet taken: zero whenever
// no call is between its decoding and the chain (tests watch it for leaks).
func Pending() int { return int(failures.pending.Load()) }

// UnaryServerInterceptor answers a call whose request failed to decode
// with the failure (InvalidArgument, bad_request) and passes every other
// call on. It must run for every unary call on a server using Codec, or
// failures would stay recorded: grpc-go always runs the unary chain after
// decoding, so any position in the chain does; attestd's puts it after the
// interceptors that log and count calls.
func UnaryServerInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := Take(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// StreamServerInterceptor gives streaming handlers (health Watch,
// reflection) a decode failure as RecvMsg's error, so the stream ends with
// InvalidArgument.
func StreamServerInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &stream{ss})
}

type stream struct{ grpc.ServerStream }

// RecvMsg is the wrapped stream's, turning a recorded failure into its
// error.
func (s *stream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return Take(m)
}
