package luapolicy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// maxSource bounds a script's size: a policy file is a page of settings, not a program.
const maxSource = 1 << 20

// script is a compiled policy script: one FunctionProto that every state of the version
// runs, never recompiled.
type script struct {
	name  string // the chunk name errors are reported under: the file path or "etcd:key"
	sum   string // SHA-256 of the source, hex
	proto *lua.FunctionProto
	lines lines // where each literal setting is, for errors
}

func checksum(src []byte) string {
	s := sha256.Sum256(src)
	return hex.EncodeToString(s[:])
}

// compile parses and compiles src, with every `..` made bounded (see guardConcat).
func compile(name string, src []byte) (*script, error) {
	if len(src) > maxSource {
		return nil, fmt.Errorf("%w: %s: %d bytes, over the limit of %d", ErrRejected, name, len(src), maxSource)
	}
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("%w: %s: at end of file: %s", ErrRejected, name, pe.Message)
			}
			return nil, fmt.Errorf("%w: %s:%d:%d: %s near %q", ErrRejected, name, pe.Pos.Line, pe.Pos.Column, pe.Message, pe.Token)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrRejected, name, err)
	}
	s := &script{name: name, sum: checksum(src), lines: indexLines(chunk)}
	if s.proto, err = lua.Compile(guardConcat(chunk), name); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRejected, name, err)
	}
	return s, nil
}
