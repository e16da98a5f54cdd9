package gwproto

import (
	"strconv"
	"strings"
)

// Type is a field type (NMFIELD_TYPE_*). On the binary side only the list
// types (Array, MV) and the string types (UTF8, DN) are special; every other
// type travels as a bare uint32.
type Type uint8

// Field types.
const (
	TypeInvalid Type = 0 // terminator of a top-level binary list; never a real field
	TypeNumber  Type = 1
	TypeBinary  Type = 2 // never sent by a client; a uint32 on the binary side
	TypeByte    Type = 3
	TypeUByte   Type = 4
	TypeWord    Type = 5
	TypeUWord   Type = 6
	TypeDWord   Type = 7 // sent as the decimal of the unsigned 32-bit pattern
	TypeUDWord  Type = 8
	TypeArray   Type = 9
	TypeUTF8    Type = 10
	TypeBool    Type = 11
	TypeMV      Type = 12 // multi-value list
	TypeDN      Type = 13
)

var typeNames = [...]string{
	"INVALID", "NUMBER", "BINARY", "BYTE", "UBYTE", "WORD", "UWORD", "DWORD",
	"UDWORD", "ARRAY", "UTF8", "BOOL", "MV", "DN",
}

// String returns the NMFIELD_TYPE_ suffix, e.g. "UTF8", or "TYPE(n)".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "TYPE(" + strconv.Itoa(int(t)) + ")"
}

// IsList reports whether fields of this type hold sub-fields (Array, MV).
func (t Type) IsList() bool { return t == TypeArray || t == TypeMV }

// IsString reports whether fields of this type hold a string (UTF8, DN).
func (t Type) IsString() bool { return t == TypeUTF8 || t == TypeDN }

// Method is a field method (NMFIELD_METHOD_*). It is a number on the binary
// side and a single character on the text side (see Char).
type Method uint8

// Field methods.
const (
	MethodValid      Method = 0
	MethodIgnore     Method = 1 // a client never sends such a field
	MethodDelete     Method = 2
	MethodDeleteAll  Method = 3
	MethodEqual      Method = 4
	MethodAdd        Method = 5
	MethodUpdate     Method = 6
	MethodGTE        Method = 10
	MethodLTE        Method = 12
	MethodNE         Method = 14
	MethodExist      Method = 15
	MethodNotExist   Method = 16
	MethodSearch     Method = 17
	MethodMatchBegin Method = 19
	MethodMatchEnd   Method = 20
	MethodNotArray   Method = 40
	MethodOrArray    Method = 41
	MethodAndArray   Method = 42
)

// Char returns the character that stands for m in a request's cmd= piece.
// The mapping is not the decimal value: Add is '1', Update is 'F', Equal is
// 'G'. Methods without a character of their own (including Valid) give '0'.
func (m Method) Char() byte {
	switch m {
	case MethodDelete:
		return '2'
	case MethodDeleteAll:
		return '3'
	case MethodEqual:
		return 'G'
	case MethodAdd:
		return '1'
	case MethodUpdate:
		return 'F'
	case MethodGTE:
		return 'E'
	case MethodLTE:
		return 'D'
	case MethodNE:
		return 'C'
	case MethodExist:
		return 'B'
	case MethodNotExist:
		return 'A'
	case MethodSearch:
		return '9'
	case MethodMatchBegin:
		return '8'
	case MethodMatchEnd:
		return '7'
	case MethodNotArray:
		return '6'
	case MethodOrArray:
		return '5'
	case MethodAndArray:
		return '4'
	default:
		return '0'
	}
}

// MethodFromChar maps a request's cmd= character back to a method. It
// reports false for a character that no method uses.
func MethodFromChar(c byte) (Method, bool) {
	switch c {
	case '0':
		return MethodValid, true
	case '1':
		return MethodAdd, true
	case '2':
		return MethodDelete, true
	case '3':
		return MethodDeleteAll, true
	case '4':
		return MethodAndArray, true
	case '5':
		return MethodOrArray, true
	case '6':
		return MethodNotArray, true
	case '7':
		return MethodMatchEnd, true
	case '8':
		return MethodMatchBegin, true
	case '9':
		return MethodSearch, true
	case 'A':
		return MethodNotExist, true
	case 'B':
		return MethodExist, true
	case 'C':
		return MethodNE, true
	case 'D':
		return MethodLTE, true
	case 'E':
		return MethodGTE, true
	case 'F':
		return MethodUpdate, true
	case 'G':
		return MethodEqual, true
	}
	return 0, false
}

// Field is one element of a field list: a tag, a method, a type and a value.
// Which value member is meaningful depends on Type: Value for UTF8/DN,
// Children for Array/MV, Number for everything else.
type Field struct {
	Tag      string
	Method   Method
	Type     Type
	Number   uint32
	Value    string
	Children Fields
}

// Fields is an ordered field list.
type Fields []Field

// NewString returns a UTF8 field.
func NewString(tag, value string) Field { return Field{Tag: tag, Type: TypeUTF8, Value: value} }

// NewDN returns a DN field.
func NewDN(tag, dn string) Field { return Field{Tag: tag, Type: TypeDN, Value: dn} }

// NewNumber returns a numeric field of type typ (for example TypeUDWord).
func NewNumber(tag string, typ Type, n uint32) Field { return Field{Tag: tag, Type: typ, Number: n} }

// NewArray returns an Array field holding children.
func NewArray(tag string, children ...Field) Field {
	return Field{Tag: tag, Type: TypeArray, Children: Fields(children)}
}

// NewMV returns a multi-value (MV) field holding children.
func NewMV(tag string, children ...Field) Field {
	return Field{Tag: tag, Type: TypeMV, Children: Fields(children)}
}

// WithMethod returns a copy of f with its method set to m.
func (f Field) WithMethod(m Method) Field {
	f.Method = m
	return f
}

// Text returns the field's value as text: the string of a UTF8/DN field, or
// the decimal number of a numeric field. For lists it returns "".
func (f *Field) Text() string {
	switch {
	case f.Type.IsString():
		return f.Value
	case f.Type.IsList():
		return ""
	default:
		return strconv.FormatUint(uint64(f.Number), 10)
	}
}

// Find returns the first field whose tag equals tag, compared ASCII
// case-insensitively as libpurple does, or nil.
func (fs Fields) Find(tag string) *Field {
	for i := range fs {
		if strings.EqualFold(fs[i].Tag, tag) {
			return &fs[i]
		}
	}
	return nil
}

// FindAll returns every field whose tag equals tag (case-insensitively), in
// order.
func (fs Fields) FindAll(tag string) []*Field {
	var out []*Field
	for i := range fs {
		if strings.EqualFold(fs[i].Tag, tag) {
			out = append(out, &fs[i])
		}
	}
	return out
}

// String returns the value of the first field with the given tag that has a
// string type (UTF8 or DN).
func (fs Fields) String(tag string) (string, bool) {
	for i := range fs {
		if fs[i].Type.IsString() && strings.EqualFold(fs[i].Tag, tag) {
			return fs[i].Value, true
		}
	}
	return "", false
}

// List returns the children of the first list field (Array or MV) with the
// given tag.
func (fs Fields) List(tag string) (Fields, bool) {
	for i := range fs {
		if fs[i].Type.IsList() && strings.EqualFold(fs[i].Tag, tag) {
			return fs[i].Children, true
		}
	}
	return nil, false
}

// count returns the number of fields in fs including all nested ones.
func (fs Fields) count() int {
	n := len(fs)
	for i := range fs {
		n += fs[i].Children.count()
	}
	return n
}
