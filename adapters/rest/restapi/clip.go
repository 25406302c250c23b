package restapi

import "unicode/utf8"

// MaxEcho bounds, in bytes, what an answer repeats of input it does not
// control: a service name a client typed, a token service's error
// description, and on the client side what a RemoteError repeats of the
// server's answer.
const MaxEcho = 200

// Clip cuts s to at most MaxEcho bytes without splitting a UTF-8 sequence.
func Clip(s string) string { return clip(s, MaxEcho) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
