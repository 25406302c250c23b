package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("alerts.yaml has no rules")
	}
	return out
}

// expression is one PromQL expression and where it was found.
type expression struct{ where, expr string }

func ruleExpressions(t *testing.T) []expression {
	t.Helper()
	var out []expression
	for _, r := range loadRules(t) {
		out = append(out, expression{"alerts.yaml " + r.Alert + r.Record, r.Expr})
	}
	return out
}

// dashboardExpressions are the panel queries and the variables' queries of
// the Grafana dashboard, found wherever they sit in its JSON.
func dashboardExpressions(t *testing.T) []expression {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "jwtcache.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("jwtcache.json: %v", err)
	}
	var out []expression
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			title, _ := v["title"].(string)
			if name, ok := v["name"].(string); ok && title == "" {
				title = "$" + name
			}
			if title != "" {
				path += " / " + title
			}
			for k, child := range v {
				if s, ok := child.(string); ok && (k == "expr" || k == "definition" || k == "query" && strings.Contains(s, "(")) {
					out = append(out, expression{"jwtcache.json" + path, s})
					continue
				}
				walk(path, child)
			}
		case []any:
			for _, child := range v {
				walk(path, child)
			}
		}
	}
	walk("", doc)
	if len(out) < 10 {
		t.Fatalf("found only %d expressions in the dashboard", len(out))
	}
	return out
}

// Prometheus adds these labels to every scraped series, and le is the
// bucket label of a histogram's _bucket series.
var targetLabels = []string{"job", "instance"}

var (
	// metricRef is a jwtcache metric name, with the selector's matchers
	// when it has any; a name inside a recording rule's name (job:...)
	// is not one.
	metricRef = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(jwtcache_[a-zA-Z0-9_]+)(\{[^}]*\})?`)
	matcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	grouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	// A name in label_values(metric, label).
	labelValues = regexp.MustCompile(`label_values\(\s*(jwtcache_[a-zA-Z0-9_]+)(?:\{[^}]*\})?\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// checkExpression returns what in expr names a metric or a label that the
// scraped families do not have. Histogram series (_bucket, _sum, _count)
// count as their family.
func checkExpression(expr string, families map[string]*dto.MetricFamily) []string {
	var problems []string
	labels := map[string]bool{}
	for _, l := range targetLabels {
		labels[l] = true
	}
	refs := metricRef.FindAllStringSubmatch(expr, -1)
	for _, m := range refs {
		name, selector := m[1], m[2]
		mf, suffix := family(name, families)
		if mf == nil {
			problems = append(problems, fmt.Sprintf("no metric %s", name))
			continue
		}
		own := map[string]bool{}
		for _, l := range mf.GetMetric() {
			for _, lp := range l.GetLabel() {
				own[lp.GetName()] = true
			}
		}
		if suffix == "_bucket" {
			own["le"] = true
		}
		for l := range own {
			labels[l] = true
		}
		for _, mm := range matcher.FindAllStringSubmatch(selector, -1) {
			if l := mm[1]; !own[l] && !slices.Contains(targetLabels, l) {
				problems = append(problems, fmt.Sprintf("%s has no label %s", name, l))
			}
		}
	}
	for _, m := range labelValues.FindAllStringSubmatch(expr, -1) {
		if !labels[m[2]] {
			problems = append(problems, fmt.Sprintf("label_values: %s has no label %s", m[1], m[2]))
		}
	}
	if len(refs) == 0 {
		return problems
	}
	for _, m := range grouping.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				problems = append(problems, fmt.Sprintf("grouping by %s, a label none of its metrics has", l))
			}
		}
	}
	return problems
}

// family is the scraped family a series name belongs to, and the
// histogram or summary suffix it was found by.
func family(name string, families map[string]*dto.MetricFamily) (*dto.MetricFamily, string) {
	if mf, ok := families[name]; ok {
		return mf, ""
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		mf, ok := families[base]
		if !ok {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			return mf, suffix
		case dto.MetricType_SUMMARY:
			if suffix != "_bucket" {
				return mf, suffix
			}
		}
	}
	return nil, ""
}

// TestCheckExpressionFindsMistakes: the checker below the real test
// catches a misspelt metric, a label its metric lacks, a grouping by such
// a label and a histogram suffix on a counter.
func TestCheckExpressionFindsMistakes(t *testing.T) {
	families := scrapeFamilies(t, liveScrape(t))
	for _, tc := range []struct{ expr, want string }{
		{`rate(jwtcache_cache_hit_total[5m])`, "no metric jwtcache_cache_hit_total"},
		{`jwtcache_token_service_requests_total{outcom="ok"}`, "has no label outcom"},
		{`sum by (service) (rate(jwtcache_store_errors_total[5m]))`, "grouping by service"},
		{`jwtcache_cache_hits_total_bucket`, "no metric jwtcache_cache_hits_total_bucket"},
		{`label_values(jwtcache_build_info, versions)`, "has no label versions"},
	} {
		problems := checkExpression(tc.expr, families)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
			t.Errorf("%s: problems %q, want one about %q", tc.expr, problems, tc.want)
		}
	}
	for _, ok := range []string{
		`histogram_quantile(0.99, sum by (le) (rate(jwtcache_token_service_request_duration_seconds_bucket{job="x", outcome="ok"}[5m])))`,
		`min by (job, service) (jwtcache_token_seconds_until_expiry) < 20 and on (job) sum by (job) (jwtcache_renewal_failures_total) > 0`,
		`absent(up{job="jwtcache"} == 1)`,
	} {
		if problems := checkExpression(ok, families); len(problems) > 0 {
			t.Errorf("%s: %q", ok, problems)
		}
	}
}

// TestRulesAndDashboardNameRealMetrics: every metric and label the alert
// rules and the dashboard use is in a live scrape of jwtcache's registry.
func TestRulesAndDashboardNameRealMetrics(t *testing.T) {
	families := scrapeFamilies(t, liveScrape(t))
	exprs := append(ruleExpressions(t), dashboardExpressions(t)...)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, p := range checkExpression(e.expr, families) {
			t.Errorf("%s: %s\n  in %s", e.where, p, e.expr)
		}
		for _, m := range metricRef.FindAllStringSubmatch(e.expr, -1) {
			used[m[1]] = true
		}
	}
	// What the issue asks the rules and the dashboard to watch.
	for _, name := range []string{
		"jwtcache_cache_hits_total", "jwtcache_cache_misses_total",
		"jwtcache_token_service_requests_total", "jwtcache_token_service_request_duration_seconds_bucket",
		"jwtcache_renewals_total", "jwtcache_renewal_failures_total",
		"jwtcache_token_seconds_until_expiry", "jwtcache_store_errors_total",
		"jwtcache_lock_contended_total", "jwtcache_build_info",
	} {
		if !used[name] {
			t.Errorf("neither the rules nor the dashboard use %s", name)
		}
	}
}

// TestDashboardQueriesParse: with its variables filled in, every dashboard
// query is valid PromQL, checked by promtool as a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := tool(t, "promtool", "the dashboard's PromQL")
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$job", "jwtcache", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, e := range dashboardExpressions(t) {
		if strings.HasPrefix(e.expr, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		n++
		q, _ := json.Marshal(vars.Replace(e.expr)) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d:check\n        expr: %s\n", n, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, "", promtool, "check", "rules", path)
	if !strings.Contains(out, fmt.Sprintf("%d rules found", n)) {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}
