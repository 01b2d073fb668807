package gateway

import (
	"bytes"
	"errors"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	"github.com/attestd/attestd/internal/jsonlimit"
)

// protojsonRecursionLimit backs up the depth scan inside protojson, which
// counts a level per object or array and one more for a scalar Value at the
// bottom: exactly what MaxDepth levels take (TestProtojsonRecursionBackstop).
const protojsonRecursionLimit = jsonlimit.MaxDepth + 1

// NewDecoder reads the whole body (the guard has already read it into
// memory, within the size cap) and decodes it with decodeBody.
func (m *marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		if held, ok := r.(*heldBody); ok { // the guard's: no copy
			return m.decodeBody(held.Bytes(), v)
		}
		var body bytes.Buffer
		// io.Copy uses the body's WriterTo: one allocation of its size.
		if _, err := io.Copy(&body, r); err != nil {
			return err
		}
		return m.decodeBody(body.Bytes(), v)
	})
}

// Unmarshal decodes b as NewDecoder's decoders do.
func (m *marshaler) Unmarshal(b []byte, v any) error { return m.decodeBody(b, v) }

// errTrailingData refuses a body with more after its JSON value.
var errTrailingData = errors.New("data after the JSON value")

// decodeBody refuses nesting deeper than jsonlimit.MaxDepth before any
// decoding (a deep body costs the decoders stack and CPU per level), then
// decodes the body as one JSON value: protojson refuses an unknown field,
// naming it, and anything after the value but whitespace. A body of
// whitespace only is io.EOF, which grpc-gateway treats as an empty
// request, as before.
func (m *marshaler) decodeBody(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return io.EOF
	}
	if err := jsonlimit.Check(b, jsonlimit.MaxDepth); err != nil {
		return err
	}
	if msg, ok := v.(proto.Message); ok {
		opts := m.UnmarshalOptions
		opts.RecursionLimit = protojsonRecursionLimit
		return opts.Unmarshal(b, msg)
	}
	// Not a message (no route of attestd's decodes one): grpc-gateway's
	// own decoding, which reads one value, then the same trailing check.
	dec := m.JSONPb.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if w, ok := dec.(runtime.DecoderWrapper); ok && len(bytes.TrimSpace(b[w.InputOffset():])) > 0 {
		return errTrailingData
	}
	return nil
}
