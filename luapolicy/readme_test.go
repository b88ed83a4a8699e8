package luapolicy_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cachedgo/cached/luapolicy"
)

// luaBlock is one ```lua block of README.md.
type luaBlock struct {
	line     int  // the line of its opening fence
	fragment bool // marked <!-- fragment -->: not a whole script
	src      string
}

// readmeBlocks returns the ```lua blocks of README.md. A block is a fragment when the
// last non-blank line before its fence is <!-- fragment -->.
func readmeBlocks(t *testing.T) []luaBlock {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks   []luaBlock
		cur      *luaBlock
		body     strings.Builder
		prev     string // the last non-blank line outside a block
		fragment bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.src = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		case trimmed == "```lua":
			cur = &luaBlock{line: n, fragment: fragment}
			body.Reset()
		case trimmed != "":
			prev = trimmed
			fragment = prev == "<!-- fragment -->"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: unterminated ```lua block", cur.line)
	}
	return blocks
}

// TestReadmeLuaBlocks loads every Lua script README.md shows, so that none of them,
// examples included, is one an Engine would reject.
func TestReadmeLuaBlocks(t *testing.T) {
	blocks := readmeBlocks(t)
	scripts := 0
	for _, b := range blocks {
		if b.fragment {
			continue
		}
		scripts++
		t.Run(fmt.Sprintf("README.md:%d", b.line), func(t *testing.T) {
			// Pad the script so that the lines errors name are README.md's own.
			src := strings.Repeat("\n", b.line) + b.src
			e, err := luapolicy.LoadString("README.md", src)
			if err != nil {
				t.Fatalf("rejected: %v\n%s", err, b.src)
			}
			e.Close()
		})
	}
	// Guard the extraction itself: the guide shows a dozen scripts, and only a few
	// fragments.
	if scripts < 8 {
		t.Errorf("found %d whole Lua scripts in README.md; want at least 8 (is the ```lua fence spelled differently?)", scripts)
	}
	if frags := len(blocks) - scripts; frags > 3 {
		t.Errorf("found %d fragments in README.md; want at most 3: make the others whole scripts", frags)
	}
}
