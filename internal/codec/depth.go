package codec

import "google.golang.org/protobuf/reflect/protoreflect"

// jsonDepth is how deeply m nests as JSON objects and arrays (its protojson
// form), m itself being level 1: Struct is an object and ListValue an array
// whose members are Values; a Value adds no level of its own; any other
// message is an object, its repeated fields arrays and its maps objects.
// It runs only on messages already decoded under slowLimit, so its
// recursion is bounded.
func jsonDepth(m protoreflect.Message) int {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Value":
		return members(m)
	case "google.protobuf.Struct", "google.protobuf.ListValue":
		return 1 + members(m)
	}
	deepest := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d := 0
		switch {
		case fd.IsList(), fd.IsMap():
			d = 1 + valuesDepth(fd, v)
		case fd.Message() != nil:
			d = jsonDepth(v.Message())
		}
		deepest = max(deepest, d)
		return true
	})
	return 1 + deepest
}

// members is the deepest member of a container message (Struct, ListValue,
// Value): its fields' elements, with no level for the field itself.
func members(m protoreflect.Message) int {
	deepest := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		deepest = max(deepest, valuesDepth(fd, v))
		return true
	})
	return deepest
}

// valuesDepth is the deepest message held by one field: its list elements,
// map values, or the message itself.
func valuesDepth(fd protoreflect.FieldDescriptor, v protoreflect.Value) int {
	deepest := 0
	switch {
	case fd.IsList():
		if fd.Message() == nil {
			return 0
		}
		l := v.List()
		for i := 0; i < l.Len(); i++ {
			deepest = max(deepest, jsonDepth(l.Get(i).Message()))
		}
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return 0
		}
		v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
			deepest = max(deepest, jsonDepth(e.Message()))
			return true
		})
	case fd.Message() != nil:
		deepest = jsonDepth(v.Message())
	}
	return deepest
}
