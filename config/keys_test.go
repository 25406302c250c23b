package config

import (
	"bufio"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the key table in README.md")

// guideEnvNames reads the variable names of the guide's environment block,
// copied verbatim into testdata/guide.env.
func guideEnvNames(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/guide.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("guide.env: bad line %q", line)
		}
		names = append(names, name)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) != 16 {
		t.Fatalf("guide.env has %d variables, want the guide's 16", len(names))
	}
	return names
}

func TestKeysHoldEveryGuideVariable(t *testing.T) {
	t.Parallel()
	have := map[string]bool{}
	for _, k := range Keys() {
		have[k.Env] = true
	}
	for _, name := range guideEnvNames(t) {
		if !have[name] {
			t.Errorf("guide variable %s is not in Keys()", name)
		}
	}
}

func TestKeysAreUniqueAndDocumented(t *testing.T) {
	t.Parallel()
	envs, yamls := map[string]bool{}, map[string]bool{}
	for _, k := range Keys() {
		if envs[k.Env] {
			t.Errorf("%s listed twice", k.Env)
		}
		if yamls[canonicalKey(k.YAML)] {
			t.Errorf("%s: YAML key %s listed twice", k.Env, k.YAML)
		}
		envs[k.Env], yamls[canonicalKey(k.YAML)] = true, true
		if k.Type == "" || k.Default == "" || k.Meaning == "" {
			t.Errorf("%s: undocumented: %+v", k.Env, k)
		}
	}
	if envs[FileEnv] {
		t.Errorf("%s is not a key", FileEnv)
	}
}

func TestGuideYAMLKeysAreKnown(t *testing.T) {
	t.Parallel()
	// The guide's application.yaml maps each key to its variable; the table
	// must agree with it.
	b, err := os.ReadFile("testdata/guide-application.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	var indents []int
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		for len(indents) > 0 && indents[len(indents)-1] >= indent {
			indents, path = indents[:len(indents)-1], path[:len(path)-1]
		}
		key, val, _ := strings.Cut(trimmed, ":")
		val = strings.TrimSpace(val)
		if val == "" {
			indents, path = append(indents, indent), append(path, key)
			continue
		}
		if m := placeholder.FindStringSubmatch(val); m != nil {
			found++
			yamlKey := strings.Join(append(path[:len(path):len(path)], key), ".")
			e, ok := byEnv[m[1]]
			if !ok {
				t.Errorf("%s: variable %s is not in the table", yamlKey, m[1])
			} else if e.YAML != yamlKey {
				t.Errorf("%s: table has YAML key %s, the guide %s", m[1], e.YAML, yamlKey)
			}
		}
	}
	if found != 16 {
		t.Fatalf("found %d placeholders in the guide's YAML, want 16", found)
	}
}

// readmePath is the project README, whose configuration table is this
// package's key table.
const readmePath = "../README.md"

func TestREADMETable(t *testing.T) {
	t.Parallel()
	const begin, end = "<!-- keys:begin -->\n", "<!-- keys:end -->"
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the keys:begin/keys:end markers")
	}
	want := readme[:i+len(begin)] + MarkdownTable() + readme[j:]
	if readme == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Error("README.md key table is stale; run go test ./config -run TestREADME -update")
}
