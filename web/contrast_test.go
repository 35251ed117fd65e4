package web

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"testing"
)

// colours reads the stylesheet's light-dark() custom properties: name ->
// {light, dark} as "#rrggbb".
func colours(t *testing.T) map[string][2]string {
	t.Helper()
	css, err := fs.ReadFile(Static, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`--([a-z-]+):\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\)`)
	m := map[string][2]string{}
	for _, g := range re.FindAllStringSubmatch(string(css), -1) {
		m[g[1]] = [2]string{g[2], g[3]}
	}
	if len(m) == 0 {
		t.Fatal("no light-dark() colours in style.css")
	}
	return m
}

// luminance is the WCAG 2 relative luminance of "#rrggbb".
func luminance(hex string) float64 {
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}

// contrast is the WCAG 2 contrast ratio of two colours, from 1 to 21.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func TestContrastRatio(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey that passes AA on white
	} {
		if got := contrast(tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.2f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestContrast checks every foreground/background pair the stylesheet uses,
// in both themes, against WCAG AA: 4.5:1 for text, 3:1 for the outlines of
// controls and the focus ring (non-text contrast).
func TestContrast(t *testing.T) {
	c := colours(t)
	for _, p := range []struct {
		fg, bg string
		min    float64
		use    string
	}{
		{"fg", "bg", 4.5, "text on the page (footer)"},
		{"muted", "bg", 4.5, "legends of the switches"},
		{"fg", "card", 4.5, "text in the card, input text"},
		{"muted", "card", 4.5, "secondary text in the card"},
		{"accent", "card", 4.5, "links"},
		{"accent-fg", "accent", 4.5, "buttons, the selected switch"},
		{"error", "card", 4.5, "the email error"},
		{"fg", "panel", 4.5, "debug panel values"},
		{"muted", "panel", 4.5, "debug panel labels"},
		{"field", "card", 3, "input and secondary button outlines"},
		{"field", "bg", 3, "switch outlines"},
		{"error", "card", 3, "the invalid input's outline"},
		{"focus", "card", 3, "focus ring in the card"},
		{"focus", "bg", 3, "focus ring on the page"},
	} {
		for i, theme := range []string{"light", "dark"} {
			fg, okf := c[p.fg]
			bg, okb := c[p.bg]
			if !okf || !okb {
				t.Fatalf("--%s or --%s missing from style.css", p.fg, p.bg)
			}
			got := contrast(fg[i], bg[i])
			msg := fmt.Sprintf("%s: --%s %s on --%s %s = %.2f:1 (%s)", theme, p.fg, fg[i], p.bg, bg[i], got, p.use)
			if got < p.min {
				t.Errorf("%s, want at least %.1f:1", msg, p.min)
			} else {
				t.Log(msg)
			}
		}
	}
}
