package main

import "runtime/debug"

// develVersion is what a binary reports when neither -ldflags nor the Go
// toolchain recorded a version: built outside a git checkout, or with
// -buildvcs=false.
const develVersion = "(devel)"

func init() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	version = resolveVersion(version, bi)
}

// resolveVersion is the version a binary reports. In order:
//
//   - stamped, the -ldflags "-X main.version=..." value that `make build`
//     and `make image` set to `git describe --tags --always --dirty`;
//   - the main module's version the go command recorded: the tag for a
//     tagged commit, else a pseudo-version naming the commit, with
//     "+dirty" for a modified tree (go build in a git checkout, or
//     go install module@version);
//   - the VCS revision alone, as git describe --always --dirty writes it,
//     when the go command recorded a revision but no module version;
//   - develVersion.
func resolveVersion(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if bi == nil {
		return develVersion
	}
	if v := bi.Main.Version; v != "" && v != develVersion {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return develVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
