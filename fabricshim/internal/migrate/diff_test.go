package migrate

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	numbered := func(n int, change map[int]string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if c, ok := change[i]; ok {
				if c != "" {
					b.WriteString(c + "\n")
				}
				continue
			}
			b.WriteString("line" + string(rune('a'+i%26)) + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"one line", "a\nb\nc\n", "a\nB\nc\n", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"insert at the start", "b\n", "a\nb\n", "--- a/f\n+++ b/f\n@@ -1,1 +1,2 @@\n+a\n b\n"},
		{"delete all", "a\n", "", "--- a/f\n+++ b/f\n@@ -1,1 +0,0 @@\n-a\n"},
		{"from nothing", "", "a\n", "--- a/f\n+++ b/f\n@@ -0,0 +1,1 @@\n+a\n"},
		{"no newline at the end", "a\nb", "a\nb\n", "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
		{"two hunks", numbered(20, nil), numbered(20, map[int]string{2: "X", 18: "Y"}),
			"--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n lineb\n-linec\n+X\n lined\n linee\n linef\n" +
				"@@ -15,6 +15,6 @@\n linep\n lineq\n liner\n-lines\n+Y\n linet\n lineu\n"},
		{"near changes share a hunk", numbered(10, nil), numbered(10, map[int]string{3: "X", 8: "Y"}),
			"--- a/f\n+++ b/f\n@@ -1,10 +1,10 @@\n lineb\n linec\n-lined\n+X\n linee\n linef\n lineg\n lineh\n-linei\n+Y\n linej\n linek\n"},
	}
	for _, tc := range tests {
		if got := unifiedDiff("a/f", "b/f", []byte(tc.old), []byte(tc.new)); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

// lcs is the length of the longest common subsequence, the slow way.
func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// The edit script turns a into b, and is a shortest one.
func TestEditScriptRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "d"}
	gen := func() []string {
		s := make([]string, r.IntN(12))
		for i := range s {
			s[i] = words[r.IntN(len(words))]
		}
		return s
	}
	for range 2000 {
		a, b := gen(), gen()
		var gotA, gotB []string
		edits := 0
		for _, o := range editScript(a, b) {
			if o.kind != '+' {
				gotA = append(gotA, o.text)
			}
			if o.kind != '-' {
				gotB = append(gotB, o.text)
			}
			if o.kind != ' ' {
				edits++
			}
		}
		if strings.Join(gotA, ",") != strings.Join(a, ",") || strings.Join(gotB, ",") != strings.Join(b, ",") {
			t.Fatalf("script for %q -> %q rebuilds %q -> %q", a, b, gotA, gotB)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("%q -> %q: %d edits, the shortest has %d", a, b, edits, want)
		}
	}
}
