package inproc

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/attestd/attestd/internal/middleware"
	"github.com/attestd/attestd/internal/verbatim"
)

// Direct is a grpc.ClientConnInterface that calls services registered on
// it in this process: the same unary interceptor chain and handlers as the
// gRPC server, with no serialization, no HTTP/2 and no socket. The REST
// gateway calls attestd through it. It is also a grpc.ServiceRegistrar, so
// services register on it as on a grpc.Server.
type Direct struct {
	chain      grpc.UnaryServerInterceptor
	maxRequest int
	methods    map[string]method
}

type method struct {
	impl    any
	handler grpc.MethodHandler
}

// NewDirect returns a Direct running chain around every call; requests
// larger than maxRequest bytes (their protobuf size, as the gRPC server
// measures them) are refused with ResourceExhausted, as the server does.
func NewDirect(chain grpc.UnaryServerInterceptor, maxRequest int) *Direct {
	return &Direct{chain: chain, maxRequest: maxRequest, methods: map[string]method{}}
}

// RegisterService implements grpc.ServiceRegistrar (unary methods only).
func (d *Direct) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		d.methods["/"+desc.ServiceName+"/"+m.MethodName] = method{impl: impl, handler: m.Handler}
	}
}

// Invoke runs a unary call: the caller's outgoing metadata becomes the
// server side's incoming metadata, the peer is marked as in-process (see
// middleware.ForwardedAuthInfo), headers and trailers the handlers set come
// back through the grpc.Header and grpc.Trailer call options, and the
// answer's fields are moved into reply (shared, not deep-copied; see move).
func (d *Direct) Invoke(ctx context.Context, fullMethod string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := d.methods[fullMethod]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", fullMethod)
	}
	in, ok := args.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "request %T is not a protobuf message", args)
	}
	if n := proto.Size(in); n > d.maxRequest {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, d.maxRequest)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	sctx := metadata.NewIncomingContext(ctx, md)
	sctx = peer.NewContext(sctx, &peer.Peer{Addr: addr{}, LocalAddr: addr{}, AuthInfo: middleware.ForwardedAuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}})
	st := &stream{method: fullMethod}
	sctx = grpc.NewContextWithServerTransportStream(sctx, st)

	resp, err := m.handler(m.impl, sctx, func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}, d.chain)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = st.headers()
		case grpc.TrailerCallOption:
			*o.TrailerAddr = st.trailers()
		}
	}
	if err != nil {
		return status.Convert(err).Err()
	}
	out, ok := resp.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "answer %T is not a protobuf message", resp)
	}
	dst, ok := reply.(proto.Message)
	if !ok || dst.ProtoReflect().Descriptor() != out.ProtoReflect().Descriptor() {
		return status.Errorf(codes.Internal, "answer %T does not fit reply %T", resp, reply)
	}
	move(dst, out)
	verbatim.Moved(ctx, out, dst)
	return nil
}

// move hands src's fields over to dst, a message of the same type, without
// copying them: dst's top-level fields are set to src's values, so nested
// messages, lists and maps are shared, not cloned (proto.Merge would deep
// copy the whole answer). src is the handler's answer, which nothing uses
// after the call.
func move(dst, src proto.Message) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(fd, v)
		return true
	})
	if u := s.GetUnknown(); len(u) > 0 {
		d.SetUnknown(u)
	}
}

// NewStream is not served in process: the gateway only makes unary calls.
func (d *Direct) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "streams are not served in process")
}

// stream is the grpc.ServerTransportStream of a direct call: it collects
// what grpc.SetHeader and grpc.SetTrailer are given.
type stream struct {
	method  string
	mu      sync.Mutex
	header  metadata.MD
	trailer metadata.MD
}

func (s *stream) Method() string { return s.method }

func (s *stream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *stream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *stream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

func (s *stream) headers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

func (s *stream) trailers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}
