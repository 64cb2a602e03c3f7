package gui

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// dynamicKeys are translated through a variable (status fields, table
// columns), so the source scan below cannot see them.
var dynamicKeys = []string{"Offset", "Frequency", "Jitter", "Root distance", "Reference", "Stratum", "Last sync", "Next poll",
	"Name", "Poll", "Reach", "Last sample", "Delay"}

// TestJapaneseCoversEveryText: every text the GUI translates (a string
// literal given to L or langL, here or in cmd/timesync-gui) has a
// Japanese translation with the same placeholders.
func TestJapaneseCoversEveryText(t *testing.T) {
	b, err := os.ReadFile("model/translations/ja.json")
	if err != nil {
		t.Fatal(err)
	}
	var ja map[string]string
	if err := json.Unmarshal(b, &ja); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, k := range dynamicKeys {
		keys[k] = true
	}
	for _, dir := range []string{".", "../cmd/timesync-gui"} {
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok || len(c.Args) == 0 {
					return true
				}
				name := ""
				switch fn := c.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if bl, ok := c.Args[0].(*ast.BasicLit); ok && bl.Kind == token.STRING && (name == "L" || name == "langL") {
					s, _ := strconv.Unquote(bl.Value)
					keys[s] = true
				}
				return true
			})
			return nil
		})
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d texts; the scan is broken", len(keys))
	}
	ph := regexp.MustCompile(`{{\.[A-Za-z]+}}`)
	var missing []string
	for k := range keys {
		v, ok := ja[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		a, b := ph.FindAllString(k, -1), ph.FindAllString(v, -1)
		sort.Strings(a)
		sort.Strings(b)
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Errorf("%q: placeholders %v in Japanese, want %v", k, b, a)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no Japanese for %q", m)
	}
}
