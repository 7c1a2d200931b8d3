package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// Node is one node of the page's accessibility tree, as a screen reader
// gets it: its role, its accessible name, its heading level (0: none).
type Node struct {
	Role, Name string
	Level      int
}

// Tree reads the tab's accessibility tree into *out (nodes the browser
// ignores left out).
func Tree(out *[]Node) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		tree, err := cdp.Call(ctx, tgt, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		if err != nil {
			return fmt.Errorf("accessibility tree: %w", err)
		}
		*out = (*out)[:0]
		for _, n := range tree.Nodes {
			if n.Ignored || n.Role == nil {
				continue
			}
			node := Node{Role: axString(n.Role), Name: axString(n.Name)}
			for _, p := range n.Properties {
				if p.Name == accessibility.PropertyNameLevel && p.Value != nil {
					_ = json.Unmarshal(p.Value.Value, &node.Level)
				}
			}
			*out = append(*out, node)
		}
		return nil
	})
}

// Accessible checks the page a screen reader gets: one level-1 heading, and
// every control (text box, combo box, list box, check box, radio button,
// button, link) named. page names the page in the failures.
func Accessible(t testing.TB, page string) chromedp.Action[chromedp.Void] {
	var nodes []Node
	read := Tree(&nodes)
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		if _, err := read(ctx, tgt); err != nil {
			return err
		}
		if len(nodes) < 10 {
			t.Errorf("%s: the accessibility tree has only %d nodes", page, len(nodes))
		}
		h1 := 0
		for _, n := range nodes {
			switch n.Role {
			case "heading":
				if n.Level == 1 {
					h1++
				}
			case "textbox", "combobox", "listbox", "checkbox", "radio", "button", "link", "spinbutton", "searchbox":
				if n.Name == "" {
					t.Errorf("%s: a %s has no accessible name", page, n.Role)
				}
			}
		}
		if h1 != 1 {
			t.Errorf("%s: %d level-1 headings, want 1", page, h1)
		}
		return nil
	})
}

// axString reads an accessibility value that is a string.
func axString(v *accessibility.Value) string {
	if v == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		return ""
	}
	return s
}
