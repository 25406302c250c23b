package restapi

import "github.com/jwtcache/jwtcache/internal/textclip"

// MaxEcho bounds, in bytes, what an answer repeats of input it does not
// control: a service name a client typed, a token service's error
// description, and on the client side what a RemoteError repeats of the
// server's answer.
const MaxEcho = 200

// Clip cuts s to at most MaxEcho bytes on a character boundary, marking
// the cut (textclip.Clip).
func Clip(s string) string { return clip(s, MaxEcho) }

func clip(s string, n int) string { return textclip.Clip(s, n) }
