package rest

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// jsonWriter appends one JSON document to a byte slice by hand. The
// responses are flat objects with a fixed set of fields, so writing them
// directly costs a fraction of reflection-based encoding on the token hot
// path, and one writer serves every endpoint so there is one encoding to
// get right.
//
// Constant keys are written unescaped; every string value, and every key
// that comes from outside (entry), goes through appendString.
type jsonWriter struct {
	b []byte
}

// maxPooledBuffer keeps an occasional huge response (the status of
// thousands of tokens) from pinning its buffer in the pool.
const maxPooledBuffer = 64 << 10

var writerPool = sync.Pool{New: func() any { return &jsonWriter{b: make([]byte, 0, 1024)} }}

func getWriter() *jsonWriter {
	w := writerPool.Get().(*jsonWriter)
	w.b = w.b[:0]
	return w
}

func putWriter(w *jsonWriter) {
	if cap(w.b) <= maxPooledBuffer {
		writerPool.Put(w)
	}
}

// open starts the top-level object.
func (w *jsonWriter) open() { w.b = append(w.b, '{') }

// close ends the innermost open object.
func (w *jsonWriter) close() { w.b = append(w.b, '}') }

// separate writes a comma unless the field is the object's first.
func (w *jsonWriter) separate() {
	if n := len(w.b); n > 0 && w.b[n-1] != '{' {
		w.b = append(w.b, ',')
	}
}

// key writes the separator and k, one of the package's constant keys,
// which need no escaping.
func (w *jsonWriter) key(k string) {
	w.separate()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// object starts a nested object under the constant key k; close ends it.
func (w *jsonWriter) object(k string) {
	w.key(k)
	w.b = append(w.b, '{')
}

// entry starts a nested object under name, a key that comes from outside
// (a service name read from the store) and is therefore escaped.
func (w *jsonWriter) entry(name string) {
	w.separate()
	w.b = appendString(w.b, name)
	w.b = append(w.b, ':', '{')
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// float writes v the way encoding/json does; JSON has no NaN or infinity,
// so those are written as 0 rather than producing an invalid document.
func (w *jsonWriter) float(k string, v float64) {
	w.key(k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	fmtByte := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtByte = 'e'
	}
	w.b = strconv.AppendFloat(w.b, v, fmtByte, -1, 64)
	if fmtByte == 'e' {
		// encoding/json writes 1e-7, not strconv's 1e-07.
		if n := len(w.b); n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// time writes t as RFC 3339 in UTC with second precision
// (2024-01-15T10:30:00Z), the guide's format. Go's RFC 3339 formatting has
// a fast path, and the layout has no fraction, so sub-seconds are
// truncated.
func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, time.RFC3339)
	w.b = append(w.b, '"')
}

// seconds is a lifetime in whole seconds, rounded up: the core caps a
// token's expiry at its JWT exp, which token services write in whole
// seconds, so a token issued for 3600 s lives 3599.x s from the request's
// start and expiresIn must still say 3600, as the token service did.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

const hexDigits = "0123456789abcdef"

// safeASCII reports the ASCII bytes a JSON string holds as they are; a
// table lookup per byte is what keeps escaping cheap on the hot path.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a quoted JSON string, escaped exactly as
// encoding/json escapes it (HTML-safe: <, > and & become \u003c, \u003e and
// \u0026; U+2028 and U+2029 are escaped; invalid UTF-8 becomes U+FFFD), so
// that a value from the token service can never break out of its string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Header values are shared, never modified slices, so that setting them
// costs no allocation on the hot path (gin does the same for its own
// content types).
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	noCache         = []string{"no-cache"}
)

// send writes w's document with status and returns w to the pool. Setting
// the header map directly, instead of c.JSON or c.Data, avoids a render
// value and a header slice per response.
func send(rw http.ResponseWriter, status int, w *jsonWriter) {
	rw.Header()["Content-Type"] = jsonContentType
	rw.WriteHeader(status)
	_, _ = rw.Write(w.b) // the client went away: nothing left to tell it
	putWriter(w)
}

// setNoStore marks a response that carries a token as not cacheable, as
// RFC 6749 §5.1 requires of token responses.
func setNoStore(h http.Header) {
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
}
