package main

import (
	"bytes"
	"context"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// redisTally counts what a set of Redis clients costs the server: every
// command they send, by name, read off the wire (so pipelined commands,
// Lua scripts and the pub/sub connection's SUBSCRIBE and health-check PING
// all count, as the server's commandstats would), and every byte they
// receive (the server's output to them). Counting at the clients instead of
// with the server's INFO keeps other users of a shared Redis out of the
// figures.
type redisTally struct {
	in atomic.Int64 // bytes received

	mu   sync.Mutex
	cmds map[string]int64 // guarded by mu; lower-case command name -> count
}

func newRedisTally() *redisTally { return &redisTally{cmds: map[string]int64{}} }

// tallySnapshot is a tally at one instant.
type tallySnapshot struct {
	cmds    map[string]int64
	bytesIn int64
}

func (t *redisTally) snapshot() tallySnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tallySnapshot{cmds: maps.Clone(t.cmds), bytesIn: t.in.Load()}
}

// since is s minus an earlier snapshot.
func (s tallySnapshot) since(earlier tallySnapshot) tallySnapshot {
	d := tallySnapshot{cmds: map[string]int64{}, bytesIn: s.bytesIn - earlier.bytesIn}
	for name, n := range s.cmds {
		if n -= earlier.cmds[name]; n != 0 {
			d.cmds[name] = n
		}
	}
	return d
}

func (s tallySnapshot) total() int64 {
	var n int64
	for _, c := range s.cmds {
		n += c
	}
	return n
}

func (t *redisTally) count(name string) {
	t.mu.Lock()
	t.cmds[name]++
	t.mu.Unlock()
}

// dialer dials like go-redis's default dialer and wraps the connection so
// that it counts.
func (t *redisTally) dialer(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tallyConn{Conn: c, t: t}, nil
}

// tallyConn counts the bytes it reads and parses the RESP commands it
// writes. go-redis writes on a connection from one goroutine at a time; mu
// makes that an invariant rather than an assumption.
type tallyConn struct {
	net.Conn
	t *redisTally

	mu  sync.Mutex
	out []byte // guarded by mu: written bytes not yet forming a whole command
}

func (c *tallyConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.t.in.Add(int64(n))
	return n, err
}

func (c *tallyConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, b...)
	for {
		n, name := parseCommand(c.out)
		if n == 0 {
			break
		}
		c.t.count(name)
		c.out = c.out[n:]
	}
	if len(c.out) == 0 {
		c.out = c.out[:0:0] // let a large buffer go
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// parseCommand reads one command a client sends, an array of bulk strings
// ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), from the start of b. It returns the
// bytes it spans and the command's lower-case name, or 0 when b does not
// hold a whole command yet. Bytes that are not RESP are dropped one line
// at a time.
func parseCommand(b []byte) (int, string) {
	line, pos, ok := respLine(b, 0)
	if !ok {
		return 0, ""
	}
	if len(line) == 0 || line[0] != '*' {
		return pos, "(inline)"
	}
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n < 1 {
		return pos, "(malformed)"
	}
	var name string
	for i := range n {
		line, next, ok := respLine(b, pos)
		if !ok {
			return 0, ""
		}
		size, err := strconv.Atoi(string(bytes.TrimPrefix(line, []byte("$"))))
		if err != nil || size < 0 {
			return next, "(malformed)"
		}
		end := next + size + 2
		if len(b) < end {
			return 0, ""
		}
		if i == 0 {
			name = strings.ToLower(string(b[next : next+size]))
		}
		pos = end
	}
	return pos, name
}

// respLine is the line of b starting at from, without its CRLF, and the
// position after it.
func respLine(b []byte, from int) ([]byte, int, bool) {
	i := bytes.Index(b[from:], []byte("\r\n"))
	if i < 0 {
		return nil, 0, false
	}
	return b[from : from+i], from + i + 2, true
}
