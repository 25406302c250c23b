package svgchart

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
)

// parsed is what a test reads back from an SVG document.
type parsed struct {
	root    string
	texts   []string
	series  []string // data-series of each path or bar, in order
	bars    int
	paths   int
	bands   int
	hlines  int
	circles int
}

// parse reads doc as XML, failing the test when it is not well formed.
func parse(t *testing.T, doc []byte) parsed {
	t.Helper()
	var p parsed
	dec := xml.NewDecoder(bytes.NewReader(doc))
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if p.root == "" {
				p.root = e.Name.Space + " " + e.Name.Local
			}
			attr := func(n string) string {
				for _, a := range e.Attr {
					if a.Name.Local == n {
						return a.Value
					}
				}
				return ""
			}
			switch {
			case e.Name.Local == "text" || e.Name.Local == "title":
				inText = true
			case attr("class") == "series":
				p.paths++
				p.series = append(p.series, attr("data-series"))
			case attr("class") == "bar":
				p.bars++
				p.series = append(p.series, attr("data-series")+"/"+attr("data-group"))
			case attr("class") == "band":
				p.bands++
			case attr("class") == "hline":
				p.hlines++
			case e.Name.Local == "circle":
				p.circles++
			}
		case xml.CharData:
			if inText {
				p.texts = append(p.texts, string(e))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return p
}

func TestLineChart(t *testing.T) {
	c := LineChart{
		Title: "p99 <latency> & more", Subtitle: "loopback", XLabel: "services", YLabel: "time",
		XScale: Log, YScale: Log,
		Series: []Series{
			{Name: "Statuses", Points: []Point{{100, 2e4}, {1000, 2e5}, {10000, 2e6}}, Markers: true},
			{Name: "ideal", Points: []Point{{100, 1e4}, {10000, 1e6}}, Dashed: true},
		},
		HLines: []HLine{{Y: 5e5, Label: "target"}},
		Bands:  []Band{{From: 200, To: 400, Label: "fault"}},
	}
	doc, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, doc)
	if p.root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q", p.root)
	}
	if !slices.Equal(p.series, []string{"Statuses", "ideal"}) || p.circles != 3 || p.bands != 1 || p.hlines != 1 {
		t.Errorf("series %v, %d markers, %d bands, %d lines", p.series, p.circles, p.bands, p.hlines)
	}
	for _, want := range []string{"p99 <latency> & more", "Statuses", "ideal", "target", "fault", "services", "time", "100", "1000", "10k", "1M"} {
		if !slices.Contains(p.texts, want) {
			t.Errorf("no text %q in %v", want, p.texts)
		}
	}
	if !strings.Contains(string(doc), `stroke-dasharray="7 4"`) {
		t.Error("the dashed series is not dashed")
	}
}

func TestLineChartLinearFromZero(t *testing.T) {
	zero := 0.0
	doc, err := LineChart{Title: "soak", YMin: &zero, Series: []Series{{Name: "rps", Points: []Point{{0, 88}, {10, 91}, {20, 90}}}}}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, doc)
	if !slices.Contains(p.texts, "0") || !slices.Contains(p.texts, "100") {
		t.Errorf("the y axis does not run from 0 to 100: %v", p.texts)
	}
}

func TestLineChartRejects(t *testing.T) {
	for name, c := range map[string]LineChart{
		"no series":    {},
		"empty series": {Series: []Series{{Name: "x"}}},
		"zero on log":  {YScale: Log, Series: []Series{{Name: "x", Points: []Point{{1, 0}}}}},
	} {
		if _, err := c.SVG(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestBarChart(t *testing.T) {
	c := BarChart{
		Title: "Token-service calls", YLabel: "calls",
		Groups: []string{"1 replica", "10 replicas"},
		Series: []BarSeries{{Name: "jwtcache", Values: []float64{20, 20}}, {Name: "x/oauth2", Values: []float64{14, 140}}},
	}
	doc, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, doc)
	want := []string{"jwtcache/1 replica", "x/oauth2/1 replica", "jwtcache/10 replicas", "x/oauth2/10 replicas"}
	if p.bars != 4 || !slices.Equal(p.series, want) {
		t.Errorf("bars %v, want %v", p.series, want)
	}
	for _, v := range []string{"20", "14", "140", "1 replica", "10 replicas", "jwtcache", "x/oauth2"} {
		if !slices.Contains(p.texts, v) {
			t.Errorf("no text %q", v)
		}
	}
	c.Series[1].Values = c.Series[1].Values[:1]
	if _, err := c.SVG(); err == nil {
		t.Error("a series with a missing value was drawn")
	}
}

func TestShort(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.05: "0.05", 12: "12", 1500: "1500", 49100: "49.1k", 2.5e6: "2.5M", 3e9: "3G"} {
		if got := Short(v); got != want {
			t.Errorf("Short(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestLegendWraps: a legend too wide for one row takes more rows, and the
// image grows to hold them.
func TestLegendWraps(t *testing.T) {
	var series []Series
	for i := range 6 {
		series = append(series, Series{Name: "a rather long series name " + string(rune('A'+i)), Points: []Point{{1, 1}, {2, 2}}})
	}
	doc, err := LineChart{Title: "wide", Width: 600, Height: 300, Series: series}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, doc)
	for _, s := range series {
		if !slices.Contains(p.texts, s.Name) {
			t.Errorf("legend lacks %q", s.Name)
		}
	}
	if !strings.Contains(string(doc), `height="336"`) {
		t.Errorf("the image did not grow by the two extra legend rows (three rows of two): %.200s", doc)
	}
}
