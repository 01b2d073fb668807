// Package codec is attestd's gRPC server codec: protobuf, as grpc-go's own,
// except that request nesting is bounded and a request that fails to decode
// reaches the interceptor chain as InvalidArgument.
//
// grpc-go decodes a request before any interceptor runs and answers a codec
// error with Internal, so such calls would be neither logged nor counted,
// and a deeply nested google.protobuf.Struct would cost its full recursion
// (grpc-go allows 10 000 levels) before anything could refuse it. This codec
// decodes under a recursion limit equivalent to jsonlimit.MaxDepth and, when
// decoding fails, empties the message, marks it with the failure and returns
// nil; the chain's "decode" interceptor (UnaryServerInterceptor) then
// answers the call with that failure. Streams get it from RecvMsg, through
// StreamServerInterceptor.
//
// The failure travels in the message itself, as one unknown field no client
// can forge (it carries a random per-process nonce), not in a table on the
// side: grpc-go decodes a second message into the same one to check that a
// unary call sent only one, then fails the call without running the chain,
// and a table entry for it would never be taken.
package codec

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/jsonlimit"
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
	if vt, ok := m.(vtMessage); ok {
		return marshalVT(vt)
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

// vtMessage is a message with vtprotobuf's generated encoder (attestd's
// own: the Stytch mirror); gRPC's health and reflection messages lack it.
type vtMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT(dAtA []byte) (int, error)
}

// marshalVT encodes m with its generated code, which produces the same
// bytes as proto.Marshal without reflection (TestVTMatchesProto), into a
// pooled buffer when it is large enough to be worth one.
func marshalVT(m vtMessage) (mem.BufferSlice, error) {
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if _, err := m.MarshalToSizedBufferVT(buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBufferVT((*buf)[:size]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes data into v within the nesting limit. When decoding
// fails it empties v, marks it with the failure (see Failure) and returns
// nil, so that the call reaches the interceptor chain; it returns an error
// only when v is not a protobuf message at all (a bug, which grpc-go
// answers Internal).
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m := messageOf(v)
	if m == nil {
		return fmt.Errorf("codec: cannot unmarshal into %T, want a proto.Message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	if f := decode(buf.ReadOnlyData(), m); f != 0 {
		proto.Reset(m) // nothing half-decoded goes further
		m.ProtoReflect().SetUnknown(markers[f])
	}
	return nil
}

// Decode failures, as the caller is told of them.
const (
	failWireFormat byte = iota + 1
	failUTF8
	failDepth
	failures // the number of failure kinds plus one
)

// decode unmarshals b into m, refusing nesting beyond jsonlimit.MaxDepth
// JSON levels, and returns the failure (0 for none). Requests within
// fastLimit message levels (all real ones) decode once; deeper ones are
// decoded again under slowLimit and measured.
func decode(b []byte, m proto.Message) byte {
	err := fastOptions.Unmarshal(b, m)
	if err == nil {
		return 0
	}
	if !isRecursion(err) {
		return classify(err)
	}
	if err := slowOptions.Unmarshal(b, m); err != nil {
		return classify(err)
	}
	if jsonDepth(m.ProtoReflect()) > jsonlimit.MaxDepth {
		return failDepth
	}
	return 0
}

// classify names a protobuf decode error. protobuf exports no sentinels
// for these; TestErrorClassification pins the texts.
func classify(err error) byte {
	switch {
	case isRecursion(err):
		return failDepth
	case strings.Contains(err.Error(), "invalid UTF-8"):
		return failUTF8
	}
	return failWireFormat
}

func isRecursion(err error) bool {
	return strings.Contains(err.Error(), "exceeded maximum recursion depth")
}

// markers[f] is the unknown field a message failing with f carries: the
// largest field number, length-delimited, holding the nonce and f.
var markers = func() [failures][]byte {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails on supported platforms
	var out [failures][]byte
	for f := byte(1); f < failures; f++ {
		b := protowire.AppendTag(nil, protowire.MaxValidNumber, protowire.BytesType)
		b = protowire.AppendBytes(b, append(nonce[:], f))
		out[f] = b[:len(b):len(b)] // shared by messages: an append must copy
	}
	return out
}()

// Failure is the decode failure req carries (InvalidArgument, bad_request,
// with a fixed message that never quotes the input, which may hold a
// token); nil when req decoded or never went through the codec (REST
// calls). It costs a look at the message's unknown fields.
func Failure(req any) error {
	m, ok := req.(interface{ ProtoReflect() protoreflect.Message })
	if !ok {
		return nil
	}
	u := m.ProtoReflect().GetUnknown()
	if len(u) != len(markers[1]) {
		return nil
	}
	f := u[len(u)-1]
	if f == 0 || f >= failures || !bytes.Equal(u, markers[f]) {
		return nil
	}
	switch f {
	case failDepth:
		de := &jsonlimit.DepthError{Limit: jsonlimit.MaxDepth}
		return apierr.BadRequest.Wrap(de,
			"invalid request: "+de.Error()+" (google.protobuf.Struct and ListValue values, the request message being level 1)")
	case failUTF8:
		return apierr.BadRequest.New("request is not a valid protobuf message: invalid UTF-8 in a string field")
	}
	return apierr.BadRequest.New("request is not a valid protobuf message: cannot parse invalid wire-format data")
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

// UnaryServerInterceptor answers a call whose request failed to decode
// with the failure (InvalidArgument, bad_request) and passes every other
// call on. attestd's chain runs it after the interceptors that log and
// count calls, and before anything that reads the request.
func UnaryServerInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := Failure(req); err != nil {
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

// RecvMsg is the wrapped stream's, turning a decode failure into its
// error.
func (s *stream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return Failure(m)
}
