package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEPackageMap: the package map of the README's Architecture
// section names every package of the module, and only those, so that a
// package added or moved is described where readers look first.
func TestREADMEPackageMap(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Architecture\n.*?\n```\n(.*?)\n```\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README's Architecture section has no package map")
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(m[1]), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed[strings.TrimSuffix(f[0], "/")] = true
		}
	}

	packages := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			packages[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// deploy holds only tests, and is listed for the files they check.
	packages["deploy"] = true
	for p := range packages {
		if !listed[p] {
			t.Errorf("the README's package map lacks %s", p)
		}
	}
	for p := range listed {
		if !packages[p] {
			t.Errorf("the README's package map lists %s, which is not a package", p)
		}
	}
}
