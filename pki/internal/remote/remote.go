// Package remote holds what the clients of remote CAs (step-ca, cfssl)
// share when they turn a server's answer into an error: text from the
// network is untrusted, so it is made printable and bounded before it
// reaches a log line or a terminal.
package remote

import "strings"

// Clip replaces control characters in s (which could rewrite a terminal
// line or forge log lines) with spaces and cuts it to n bytes, marking
// the cut. A cut never splits a UTF-8 sequence.
func Clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// utf8Start tells whether b begins a UTF-8 sequence (is not a
// continuation byte).
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
