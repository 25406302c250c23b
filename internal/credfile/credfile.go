// Package credfile keeps credentials that live in files up to date while
// the process runs: a client secret, a private key, a client certificate,
// API keys. Kubernetes mounts a secret as files and rotates it by swapping
// a symlink (..data) to a new directory; Vault Agent and editors rewrite
// the file in place. Either way the next reader gets the new value, with
// no restart.
//
// # How a change is seen
//
// Current stats the files (os.Stat, which follows the symlink) at most
// once per CheckInterval, on the caller's path, and reads them again only
// when one is no longer the same file (os.SameFile: another inode, which
// is what a symlink swap gives) or its size or modification time changed
// (an in-place rewrite). That is one stat per file per second at most,
// only while someone asks, on every filesystem (NFS, FUSE and projected
// volumes included), with no goroutine to start or stop.
//
// fsnotify (already in the module graph, through koanf) was the
// alternative and was not chosen: a Kubernetes swap renames a symlink in
// the parent directory, so the directory must be watched and the events
// mapped back to files; events are lost on overlay and network filesystems
// and coalesced under load; and a watcher is a goroutine and a file
// descriptor with a lifecycle to manage in every embedding program. What
// fsnotify would save, the wait of up to CheckInterval, the caller covers
// with Reload: the token service adapter re-reads at once when the token
// service refuses the credential.
//
// # Failures
//
// A file that cannot be read, is empty, or no longer parses keeps the last
// good value in use: a half-written file must not take a working client
// down. Err reports the problem (for health: DEGRADED), and the log says
// so once per change of state, naming the file and never its contents.
// While a read is failing every check reads again, whatever the stat says,
// so that a write completing within the same mtime tick is not missed.
package credfile

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/ports"
)

// DefaultCheckInterval is Options.CheckInterval's default: how stale a
// value may be before a caller looks at the files again.
const DefaultCheckInterval = time.Second

// MaxFileBytes bounds what is read of each file. A credential is a few KiB
// at most (a PEM chain); a larger file is a mistake (a wrong path), and
// reading it whole on every change would cost memory for nothing.
const MaxFileBytes int64 = 1 << 20

// ErrEmpty is the problem of a file that holds nothing but white space.
var ErrEmpty = errors.New("the file is empty")

// ErrTooLarge is the problem of a file longer than MaxFileBytes.
var ErrTooLarge = fmt.Errorf("the file is larger than %d bytes", MaxFileBytes)

// Options tunes a File. Every field is optional.
type Options struct {
	// Name says what the files hold, for log lines and errors: the
	// configuration key, say "JWT_CLIENT_SECRET_FILE". Default: the first
	// path.
	Name string
	// CheckInterval is the least time between two looks at the files;
	// default DefaultCheckInterval, negative looks on every call.
	CheckInterval time.Duration
	// Clock times CheckInterval. Default: the system clock.
	Clock ports.Clock
	// Logger receives one line when the value changes and one when a read
	// fails or recovers. Default: slog.Default().
	Logger *slog.Logger
}

// Parser turns the contents of the files, in the order of their paths,
// into a value. Its error must not quote the contents: they are a secret.
// It is never called with an empty file.
type Parser[T any] func(contents [][]byte) (T, error)

// File is a value read from one or more files and read again when they
// change. It is safe for concurrent use.
type File[T any] struct {
	paths    []string
	parse    Parser[T]
	name     string
	interval time.Duration
	clock    ports.Clock
	log      *slog.Logger

	// cur is the value in use with its generation; replaced whole, never
	// modified, so that Current reads it without a lock.
	cur atomic.Pointer[version[T]]
	// next is the UnixNano instant from which Current looks at the files
	// again.
	next atomic.Int64

	// mu serialises looking at and reading the files; the fields below
	// are guarded by it.
	mu sync.Mutex
	// stats are the files as last read successfully, by path index.
	stats []fs.FileInfo
	// digest is the SHA-256 of the contents last parsed successfully: a
	// file touched but unchanged is not a new generation.
	digest [sha256.Size]byte
	// err is the problem of the latest read, nil when it succeeded.
	err error
}

type version[T any] struct {
	value T
	gen   uint64
}

// Open reads and parses the files at paths and returns the File. Unlike
// later reads, which keep the last good value, a problem here is an error
// naming Options.Name and the file, for a start-up message.
func Open[T any](paths []string, parse Parser[T], opts Options) (*File[T], error) {
	if len(paths) == 0 {
		return nil, errors.New("credfile: no file")
	}
	f := &File[T]{
		paths:    paths,
		parse:    parse,
		name:     cmp.Or(opts.Name, paths[0]),
		interval: cmp.Or(opts.CheckInterval, DefaultCheckInterval),
		clock:    opts.Clock,
		log:      opts.Logger,
	}
	if f.clock == nil {
		f.clock = ports.SystemClock
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	stats, contents, err := f.read()
	if err != nil {
		return nil, err
	}
	v, err := parse(contents)
	if err != nil {
		return nil, f.parseError(err)
	}
	f.stats, f.digest = stats, digest(contents)
	f.cur.Store(&version[T]{value: v, gen: 1})
	f.next.Store(f.clock.Now().Add(f.interval).UnixNano())
	return f, nil
}

// Current is the value in use and its generation, which starts at 1 and
// grows by one each time the files are read with new contents. It looks
// at the files first when CheckInterval has passed since the last look;
// a caller that finds another one looking does not wait for it.
func (f *File[T]) Current() (T, uint64) {
	if f.clock.Now().UnixNano() >= f.next.Load() && f.mu.TryLock() {
		f.check(false)
		f.mu.Unlock()
	}
	v := f.cur.Load()
	return v.value, v.gen
}

// Reload looks at the files now, whatever CheckInterval says, and reads
// them if they changed; it reports whether the value did. Call it when the
// value was just refused: the file may have been rotated since the last
// look.
func (f *File[T]) Reload() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	before := f.cur.Load().gen
	f.check(true)
	return f.cur.Load().gen != before
}

// Err is the problem of the latest read, or nil when it succeeded: while
// it is not nil, Current returns the last good value. The error names the
// file and says what is wrong, never what it holds.
func (f *File[T]) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Name is Options.Name, or the first path.
func (f *File[T]) Name() string { return f.name }

// check looks at the files and reads them when they changed, or when the
// last read failed. f.mu is held.
func (f *File[T]) check(force bool) {
	defer f.next.Store(f.clock.Now().Add(f.interval).UnixNano())
	if !force && f.err == nil && f.unchanged() {
		return
	}
	stats, contents, err := f.read()
	if err == nil {
		d := digest(contents)
		if d == f.digest {
			f.stats = stats
			f.recovered()
			return
		}
		var v T
		if v, err = f.parse(contents); err == nil {
			f.stats, f.digest = stats, d
			gen := f.cur.Load().gen + 1
			f.cur.Store(&version[T]{value: v, gen: gen})
			f.log.Info("credential file changed; using the new value", "credential", f.name, "generation", gen)
			f.recovered()
			return
		}
		err = f.parseError(err)
	}
	if f.err == nil || f.err.Error() != err.Error() {
		f.log.Warn("credential file unusable; keeping the last good value", "credential", f.name, "err", err)
	}
	f.err = err
}

func (f *File[T]) recovered() {
	if f.err != nil {
		f.log.Info("credential file readable again", "credential", f.name)
		f.err = nil
	}
}

// unchanged reports whether every file is the one last read, with the
// same size and modification time.
func (f *File[T]) unchanged() bool {
	for i, p := range f.paths {
		st, err := os.Stat(p)
		if err != nil {
			return false
		}
		old := f.stats[i]
		if !os.SameFile(st, old) || st.Size() != old.Size() || !st.ModTime().Equal(old.ModTime()) {
			return false
		}
	}
	return true
}

// read stats and reads every file. Its error names Options.Name and the
// file, and the cause without the path twice.
func (f *File[T]) read() ([]fs.FileInfo, [][]byte, error) {
	stats := make([]fs.FileInfo, len(f.paths))
	contents := make([][]byte, len(f.paths))
	for i, p := range f.paths {
		st, b, err := readFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %q: %w", f.name, p, err)
		}
		stats[i], contents[i] = st, b
	}
	return stats, contents, nil
}

// parseError names Options.Name and the files for a Parser's error.
func (f *File[T]) parseError(err error) error {
	quoted := make([]string, len(f.paths))
	for i, p := range f.paths {
		quoted[i] = strconv.Quote(p)
	}
	return fmt.Errorf("%s %s: %w", f.name, strings.Join(quoted, ", "), err)
}

// readFile reads one file, stat first so that the stat describes what was
// read or something older (a change in between is seen at the next look).
func readFile(path string) (fs.FileInfo, []byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, cause(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, cause(err)
	}
	if st.IsDir() {
		return nil, nil, errors.New("is a directory")
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	switch {
	case err != nil:
		return nil, nil, cause(err)
	case int64(len(b)) > MaxFileBytes:
		return nil, nil, ErrTooLarge
	case len(bytes.TrimSpace(b)) == 0:
		return nil, nil, ErrEmpty
	}
	return st, b, nil
}

// cause drops the path an *fs.PathError repeats.
func cause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func digest(contents [][]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range contents {
		// The length first, so that moving bytes between files is a change.
		fmt.Fprintf(h, "%d:", len(c))
		h.Write(c)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Secret is the Parser of a file holding one secret: its contents without
// the line break that `echo` and most editors add at the end. Other white
// space is kept: it may be part of the secret.
func Secret(contents [][]byte) (string, error) {
	s := string(contents[0])
	s = trimFinalNewline(s)
	if s == "" {
		return "", ErrEmpty
	}
	return s, nil
}

func trimFinalNewline(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		s = s[:n-1]
		if n := len(s); n > 0 && s[n-1] == '\r' {
			s = s[:n-1]
		}
	}
	return s
}
