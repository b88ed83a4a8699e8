package cached

import "encoding/json"

// Codec turns values into the bytes a [Store] keeps and back. It is used only with a
// Store: in-process hits never decode.
//
// Implementations must be safe for concurrent use.
type Codec interface {
	// Marshal encodes v, which is a value of the function's result type.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, a pointer to a value of the function's result type.
	Unmarshal(data []byte, v any) error
}

// JSON returns the default [Codec], encoding/json.
func JSON() Codec { return jsonCodec{} }

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
