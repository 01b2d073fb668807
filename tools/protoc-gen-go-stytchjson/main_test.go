package main

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/pluginpb"

	// The Stytch mirror, registered in protoregistry.GlobalFiles.
	_ "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	_ "github.com/attestd/attestd/gen/go/stytch/error/v1"
)

const testImportPath = "example.com/gen/stytchjson"

// run runs the generator on the files named by toGenerate, given all of
// files (dependencies first), and returns its one file or its error.
func run(t *testing.T, files []*descriptorpb.FileDescriptorProto, toGenerate ...string) (src, err string) {
	t.Helper()
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: toGenerate, ProtoFile: files}
	p, e := protogen.Options{}.New(req)
	if e != nil {
		t.Fatal(e)
	}
	if err := generate(p, testImportPath); err != nil {
		return "", err.Error()
	}
	resp := p.Response()
	if resp.Error != nil {
		return "", resp.GetError()
	}
	if len(resp.File) != 1 {
		t.Fatalf("%d files generated, want 1", len(resp.File))
	}
	return resp.File[0].GetContent(), ""
}

// withImports lists fd and everything it imports, dependencies first,
// each once.
func withImports(out []*descriptorpb.FileDescriptorProto, seen map[string]bool, fd protoreflect.FileDescriptor) []*descriptorpb.FileDescriptorProto {
	if seen[fd.Path()] {
		return out
	}
	seen[fd.Path()] = true
	for i := range fd.Imports().Len() {
		out = withImports(out, seen, fd.Imports().Get(i).FileDescriptor)
	}
	return append(out, protodesc.ToFileDescriptorProto(fd))
}

// TestStytchProtos: the generator takes every field of the Stytch mirror
// and writes a decoder for each message. It fails (as `make gen` does)
// when a proto/ message gains a field kind the decoder does not know.
func TestStytchProtos(t *testing.T) {
	var files []*descriptorpb.FileDescriptorProto
	var names []string
	var msgs []protoreflect.FullName
	seen := map[string]bool{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "stytch.") {
			names = append(names, fd.Path())
			files = withImports(files, seen, fd)
			for i := range fd.Messages().Len() {
				msgs = append(msgs, fd.Messages().Get(i).FullName())
			}
		}
		return true
	})
	if len(msgs) < 37 {
		t.Fatalf("only %d messages; are the stytch packages linked in?", len(msgs))
	}
	src, err := run(t, files, names...)
	if err != "" {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if !strings.Contains(src, "decodes a "+string(m)+" object") {
			t.Errorf("no decoder for %s", m)
		}
	}
}

// testFile is a proto3 file declaring message M with the given fields, an
// enum E and a message N, and importing the well-known types used here.
func testFile(fields ...*descriptorpb.FieldDescriptorProto) []*descriptorpb.FileDescriptorProto {
	wkt := []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto),
		protodesc.ToFileDescriptorProto(structpb.File_google_protobuf_struct_proto),
		protodesc.ToFileDescriptorProto(durationpb.File_google_protobuf_duration_proto),
	}
	f := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("t/t.proto"),
		Package:    proto.String("t"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto", "google/protobuf/struct.proto", "google/protobuf/duration.proto"},
		Options:    &descriptorpb.FileOptions{GoPackage: proto.String("example.com/gen/t;t")},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name:  proto.String("E"),
			Value: []*descriptorpb.EnumValueDescriptorProto{{Name: proto.String("E_UNSPECIFIED"), Number: proto.Int32(0)}},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("M"), Field: fields},
			{Name: proto.String("N")},
		},
	}
	m := f.MessageType[0]
	for i, fd := range fields {
		fd.Number = proto.Int32(int32(i + 1))
		if fd.JsonName == nil {
			fd.JsonName = fd.Name
		}
		switch {
		case fd.GetProto3Optional(): // in a oneof of its own
			fd.OneofIndex = proto.Int32(int32(len(m.OneofDecl)))
			m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_" + fd.GetName())})
		case fd.OneofIndex != nil:
			fd.OneofIndex = proto.Int32(int32(len(m.OneofDecl)))
			m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
		}
	}
	return append(wkt, f)
}

type fieldOpt func(*descriptorpb.FieldDescriptorProto)

func field(name string, typ descriptorpb.FieldDescriptorProto_Type, opts ...fieldOpt) *descriptorpb.FieldDescriptorProto {
	fd := &descriptorpb.FieldDescriptorProto{
		Name:  proto.String(name),
		Type:  typ.Enum(),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
	}
	for _, o := range opts {
		o(fd)
	}
	return fd
}

func repeated(fd *descriptorpb.FieldDescriptorProto) {
	fd.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
}

func typeName(name string) fieldOpt {
	return func(fd *descriptorpb.FieldDescriptorProto) { fd.TypeName = proto.String(name) }
}

func number(n int32) fieldOpt {
	return func(fd *descriptorpb.FieldDescriptorProto) { fd.Number, fd.JsonName = proto.Int32(n), fd.Name }
}

// inOneof puts the field in a oneof (one only per message).
func inOneof(fd *descriptorpb.FieldDescriptorProto) { fd.OneofIndex = proto.Int32(0) }

func optional(fd *descriptorpb.FieldDescriptorProto) { fd.Proto3Optional = proto.Bool(true) }

const (
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBool    = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
)

// TestSupportedKinds: every kind the decoder knows generates, and a field
// whose JSON name differs from its name answers to both.
func TestSupportedKinds(t *testing.T) {
	files := testFile(
		field("s", tString),
		field("b", tBool),
		field("i", tInt32),
		field("ss", tString, repeated),
		field("ts", tMessage, typeName(".google.protobuf.Timestamp")),
		field("st", tMessage, typeName(".google.protobuf.Struct")),
		field("n", tMessage, typeName(".t.N")),
		field("ns", tMessage, typeName(".t.N"), repeated),
		field("foo_bar", tString, func(fd *descriptorpb.FieldDescriptorProto) { fd.JsonName = proto.String("fooBar") }),
		field("os", tString, optional),
		field("ob", tBool, optional),
		field("oi", tInt32, optional),
	)
	src, err := run(t, files, "t/t.proto")
	if err != "" {
		t.Fatal(err)
	}
	for _, want := range []string{
		`case "s":`, `scalar(d, &m.S, (*decoder).readString)`, `scalar(d, &m.B, (*decoder).readBool)`, `scalar(d, &m.I, (*decoder).readInt32)`, `d.stringList(&m.Ss)`,
		`d.timestamp(&m.Ts)`, `d.structField(&m.St)`, `message(d, "n", &m.N, (*decoder).decodeTN)`,
		`messages(d, "ns[]", &m.Ns, (*decoder).decodeTN)`,
		`case "fooBar":` + "\n\t\t\tbit, err = 1<<8, scalar(d, &m.FooBar, (*decoder).readString)",
		`case "foo_bar":` + "\n\t\t\tbit, err = 1<<8, scalar(d, &m.FooBar, (*decoder).readString)",
		`optional(d, &m.Os, (*decoder).readString)`, `optional(d, &m.Ob, (*decoder).readBool)`, `optional(d, &m.Oi, (*decoder).readInt32)`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
}

// TestUnsupportedKinds: a field kind the decoder does not know fails the
// generator, naming the field.
func TestUnsupportedKinds(t *testing.T) {
	cases := map[string]*descriptorpb.FieldDescriptorProto{
		"int64":              field("x", descriptorpb.FieldDescriptorProto_TYPE_INT64),
		"uint32":             field("x", descriptorpb.FieldDescriptorProto_TYPE_UINT32),
		"sint32":             field("x", descriptorpb.FieldDescriptorProto_TYPE_SINT32),
		"double":             field("x", descriptorpb.FieldDescriptorProto_TYPE_DOUBLE),
		"bytes":              field("x", descriptorpb.FieldDescriptorProto_TYPE_BYTES),
		"enum":               field("x", descriptorpb.FieldDescriptorProto_TYPE_ENUM, typeName(".t.E")),
		"repeated bool":      field("x", tBool, repeated),
		"repeated int32":     field("x", tInt32, repeated),
		"repeated Timestamp": field("x", tMessage, typeName(".google.protobuf.Timestamp"), repeated),
		"repeated Struct":    field("x", tMessage, typeName(".google.protobuf.Struct"), repeated),
		"Duration":           field("x", tMessage, typeName(".google.protobuf.Duration")),
		"Value":              field("x", tMessage, typeName(".google.protobuf.Value")),
		"oneof":              field("x", tString, inOneof),
		"map":                field("x", tMessage, typeName(".t.M.XEntry"), repeated),
	}
	for name, fd := range cases {
		t.Run(name, func(t *testing.T) {
			files := testFile(fd)
			if name == "map" {
				m := files[len(files)-1].MessageType[0]
				m.NestedType = []*descriptorpb.DescriptorProto{{
					Name: proto.String("XEntry"),
					Field: []*descriptorpb.FieldDescriptorProto{
						field("key", tString, number(1)),
						field("value", tString, number(2)),
					},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				}}
			}
			src, err := run(t, files, "t/t.proto")
			if err == "" {
				t.Fatalf("generated without complaint:\n%.500s", src)
			}
			if !strings.Contains(err, "t.M.x") {
				t.Errorf("the error does not name the field: %s", err)
			}
		})
	}
}
