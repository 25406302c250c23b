// Package svgchart draws the benchmark and soak figures as small,
// self-contained SVG files: line charts on linear or logarithmic axes (with
// shaded x ranges and reference lines) and grouped bar charts. It writes
// well-formed XML with no script, no external font or style sheet, so that
// the files display anywhere Markdown shows an image.
//
// It is deliberately small: what the reports need, no more.
package svgchart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Scale is how an axis maps values.
type Scale int

const (
	// Linear spaces values evenly.
	Linear Scale = iota
	// Log spaces powers of ten evenly; every value must be positive.
	Log
)

// Point is one (x, y) value of a line series.
type Point struct{ X, Y float64 }

// Series is one line of a LineChart.
type Series struct {
	Name   string
	Points []Point
	// Dashed draws the line dashed (an ideal, a target).
	Dashed bool
	// Markers draws a dot at each point.
	Markers bool
}

// Band shades the x range [From, To] behind the lines, with a label at
// its top (a fault in a soak run, for instance).
type Band struct {
	From, To float64
	Label    string
}

// HLine is a horizontal reference line at Y.
type HLine struct {
	Y     float64
	Label string
}

// LineChart is a chart of series over an x axis.
type LineChart struct {
	Title, Subtitle string
	XLabel, YLabel  string
	XScale, YScale  Scale
	// XFormat and YFormat write tick labels; default: a short number.
	XFormat, YFormat func(float64) string
	// YMin, when not nil, is the lowest value of the y axis (0 for counts
	// that should be seen from zero); by default the data decide.
	YMin   *float64
	Series []Series
	Bands  []Band
	HLines []HLine
	// Width and Height in pixels; default 720 × 360.
	Width, Height int
}

// BarChart is a grouped bar chart: for each group, one bar per series.
type BarChart struct {
	Title, Subtitle string
	YLabel          string
	Groups          []string
	Series          []BarSeries
	// Format writes the value labels and ticks; default: a short number.
	Format        func(float64) string
	Width, Height int
}

// BarSeries is one series of a BarChart: a value per group.
type BarSeries struct {
	Name   string
	Values []float64
}

// palette is colour-blind safe (Okabe and Ito), in the order series use it.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6B6B6B", "#F0E442"}

const fontFamily = `system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif`

// Margins of the plot area inside the image.
const (
	marginLeft   = 72
	marginRight  = 24
	marginTop    = 58
	marginBottom = 70
)

// Short formats v briefly: 1.2k, 3.4M, 0.05.
func Short(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e4:
		return trim(v/1e3) + "k"
	default:
		return trim(v)
	}
}

func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// svg accumulates the document.
type svg struct {
	b    bytes.Buffer
	w, h int
}

func newSVG(w, h int, title, subtitle string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="12">`+"\n", w, h, w, h, fontFamily)
	fmt.Fprintf(&s.b, `<title>%s</title>`+"\n", esc(title))
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	s.text(16, 24, "start", "font-size=\"16\" font-weight=\"600\" fill=\"#1b2430\"", title)
	if subtitle != "" {
		s.text(16, 42, "start", `fill="#5f6b7a"`, subtitle)
	}
	return s
}

func (s *svg) text(x, y float64, anchor, attrs, t string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s" %s>%s</text>`+"\n", num(x), num(y), anchor, attrs, esc(t))
}

func (s *svg) done() []byte {
	s.b.WriteString("</svg>\n")
	return s.b.Bytes()
}

func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func esc(t string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(t))
	return b.String()
}

// axis maps data values to pixels along one dimension.
type axis struct {
	scale        Scale
	lo, hi       float64 // the axis range (its log10 for Log)
	pixLo, pixHi float64
	format       func(float64) string
	ticks        []float64
}

func newAxis(scale Scale, vals []float64, minAt *float64, pixLo, pixHi float64, format func(float64) string) (*axis, error) {
	if format == nil {
		format = Short
	}
	a := &axis{scale: scale, pixLo: pixLo, pixHi: pixHi, format: format}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("svgchart: value %v is not finite", v)
		}
		if scale == Log && v <= 0 {
			return nil, fmt.Errorf("svgchart: value %v on a log axis", v)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if len(vals) == 0 {
		lo, hi = 0, 1
	}
	if minAt != nil {
		if scale == Log && *minAt <= 0 {
			return nil, errors.New("svgchart: a log axis cannot start at or below 0")
		}
		lo = min(lo, *minAt)
	}
	if scale == Log {
		a.lo, a.hi = math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if a.hi == a.lo {
			a.hi++
		}
		for e := a.lo; e <= a.hi; e++ {
			a.ticks = append(a.ticks, math.Pow(10, e))
		}
		return a, nil
	}
	if hi == lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	a.lo = math.Floor(lo/step) * step
	a.hi = math.Ceil(hi/step) * step
	if minAt != nil {
		a.lo = *minAt
	}
	for v := a.lo; v <= a.hi+step/1e6; v += step {
		a.ticks = append(a.ticks, math.Round(v/step)*step)
	}
	return a, nil
}

// niceStep is the 1, 2 or 5 × 10^k at or above raw.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func (a *axis) pos(v float64) float64 {
	if a.scale == Log {
		v = math.Log10(v)
	}
	return a.pixLo + (v-a.lo)/(a.hi-a.lo)*(a.pixHi-a.pixLo)
}

// SVG draws the line chart.
func (c LineChart) SVG() ([]byte, error) {
	w, h := size(c.Width, c.Height)
	if len(c.Series) == 0 {
		return nil, errors.New("svgchart: a line chart needs a series")
	}
	names := make([]string, len(c.Series))
	dashed := make([]bool, len(c.Series))
	for i, sr := range c.Series {
		names[i], dashed[i] = sr.Name, sr.Dashed
	}
	extra := legendHeight(names, w)
	h += extra
	var xs, ys []float64
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			return nil, fmt.Errorf("svgchart: series %q has no point", s.Name)
		}
		for _, p := range s.Points {
			xs, ys = append(xs, p.X), append(ys, p.Y)
		}
	}
	for _, b := range c.Bands {
		xs = append(xs, b.From, b.To)
	}
	for _, l := range c.HLines {
		ys = append(ys, l.Y)
	}
	left, right, top, bottom := float64(marginLeft), float64(w-marginRight), float64(marginTop), float64(h-marginBottom-extra)
	xa, err := newAxis(c.XScale, xs, nil, left, right, c.XFormat)
	if err != nil {
		return nil, err
	}
	ya, err := newAxis(c.YScale, ys, c.YMin, bottom, top, c.YFormat)
	if err != nil {
		return nil, err
	}
	s := newSVG(w, h, c.Title, c.Subtitle)
	for _, b := range c.Bands {
		x0, x1 := xa.pos(b.From), xa.pos(b.To)
		fmt.Fprintf(&s.b, `<rect class="band" x="%s" y="%s" width="%s" height="%s" fill="#fde2e2" fill-opacity="0.7"/>`+"\n",
			num(x0), num(top), num(math.Max(x1-x0, 1)), num(bottom-top))
		s.text(x0+3, top+11, "start", `font-size="10" fill="#9b1c1c"`, b.Label)
	}
	drawGrid(s, xa, ya, left, right, top, bottom)
	for _, l := range c.HLines {
		y := ya.pos(l.Y)
		fmt.Fprintf(&s.b, `<line class="hline" x1="%s" x2="%s" y1="%s" y2="%s" stroke="#D55E00" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n",
			num(left), num(right), num(y), num(y))
		if l.Label != "" {
			s.text(right-4, y-5, "end", `font-size="11" fill="#D55E00"`, l.Label)
		}
	}
	for i, sr := range c.Series {
		color := palette[i%len(palette)]
		var d strings.Builder
		for j, p := range sr.Points {
			if j == 0 {
				d.WriteString("M")
			} else {
				d.WriteString(" L")
			}
			d.WriteString(num(xa.pos(p.X)) + " " + num(ya.pos(p.Y)))
		}
		dash := ""
		if sr.Dashed {
			dash = ` stroke-dasharray="7 4"`
		}
		fmt.Fprintf(&s.b, `<path class="series" data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="2.2" stroke-linejoin="round"%s/>`+"\n",
			esc(sr.Name), d.String(), color, dash)
		if sr.Markers {
			for _, p := range sr.Points {
				fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", num(xa.pos(p.X)), num(ya.pos(p.Y)), color)
			}
		}
	}
	drawLegend(s, names, dashed, left, bottom+52)
	drawAxisLabels(s, c.XLabel, c.YLabel, left, right, top, bottom)
	return s.done(), nil
}

func size(w, h int) (int, int) {
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 360
	}
	return w, h
}

func drawGrid(s *svg, xa, ya *axis, left, right, top, bottom float64) {
	s.b.WriteString(`<g class="grid" stroke="#e2e7ee" stroke-width="1">` + "\n")
	for _, t := range ya.ticks {
		y := ya.pos(t)
		fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`+"\n", num(left), num(right), num(y), num(y))
	}
	if xa != nil {
		for _, t := range xa.ticks {
			x := xa.pos(t)
			fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`+"\n", num(x), num(x), num(top), num(bottom))
		}
	}
	s.b.WriteString("</g>\n")
	fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#8a96a6"/>`+"\n", num(left), num(right), num(bottom), num(bottom))
	fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#8a96a6"/>`+"\n", num(left), num(left), num(top), num(bottom))
	for _, t := range ya.ticks {
		s.text(left-6, ya.pos(t)+4, "end", `fill="#5f6b7a"`, ya.format(t))
	}
	if xa != nil {
		for _, t := range xa.ticks {
			s.text(xa.pos(t), bottom+16, "middle", `fill="#5f6b7a"`, xa.format(t))
		}
	}
}

func drawAxisLabels(s *svg, xLabel, yLabel string, left, right, top, bottom float64) {
	if xLabel != "" {
		s.text((left+right)/2, bottom+34, "middle", `fill="#1b2430"`, xLabel)
	}
	if yLabel != "" {
		fmt.Fprintf(&s.b, `<text transform="translate(16 %s) rotate(-90)" text-anchor="middle" fill="#1b2430">%s</text>`+"\n",
			num((top+bottom)/2), esc(yLabel))
	}
}

// legendItemWidth is the room a legend entry takes: its line, its text (at
// an average 7 px a character) and the gap after it.
func legendItemWidth(name string) float64 { return 28 + 7*float64(len([]rune(name))) + 22 }

// legendRows splits the legend entries into rows that fit width.
func legendRows(names []string, width float64) [][]int {
	var rows [][]int
	var row []int
	used := 0.0
	for i, n := range names {
		w := legendItemWidth(n)
		if len(row) > 0 && used+w-22 > width {
			rows = append(rows, row)
			row, used = nil, 0
		}
		row = append(row, i)
		used += w
	}
	return append(rows, row)
}

// legendHeight is the extra height a legend of more than one row needs.
func legendHeight(names []string, w int) int {
	return (len(legendRows(names, float64(w-marginLeft-marginRight))) - 1) * legendRowHeight
}

const legendRowHeight = 18

// drawLegend writes the legend from (x, y) down, in rows that fit the
// image.
func drawLegend(s *svg, names []string, dashed []bool, x, y float64) {
	s.b.WriteString(`<g class="legend">` + "\n")
	for r, row := range legendRows(names, float64(s.w-marginLeft-marginRight)) {
		lx, ly := x, y+float64(r*legendRowHeight)
		for _, i := range row {
			color := palette[i%len(palette)]
			dash := ""
			if dashed != nil && dashed[i] {
				dash = ` stroke-dasharray="7 4"`
			}
			fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="3"%s/>`+"\n",
				num(lx), num(lx+22), num(ly-4), num(ly-4), color, dash)
			s.text(lx+28, ly, "start", `fill="#1b2430"`, names[i])
			lx += legendItemWidth(names[i])
		}
	}
	s.b.WriteString("</g>\n")
}

// SVG draws the bar chart.
func (c BarChart) SVG() ([]byte, error) {
	w, h := size(c.Width, c.Height)
	if len(c.Groups) == 0 || len(c.Series) == 0 {
		return nil, errors.New("svgchart: a bar chart needs groups and series")
	}
	var vals []float64
	for _, sr := range c.Series {
		if len(sr.Values) != len(c.Groups) {
			return nil, fmt.Errorf("svgchart: series %q has %d values for %d groups", sr.Name, len(sr.Values), len(c.Groups))
		}
		for _, v := range sr.Values {
			if v < 0 {
				return nil, fmt.Errorf("svgchart: bar value %v is negative", v)
			}
		}
		vals = append(vals, sr.Values...)
	}
	names := make([]string, len(c.Series))
	for i, sr := range c.Series {
		names[i] = sr.Name
	}
	extra := legendHeight(names, w)
	h += extra
	left, right, top, bottom := float64(marginLeft), float64(w-marginRight), float64(marginTop), float64(h-marginBottom-extra)
	zero := 0.0
	ya, err := newAxis(Linear, vals, &zero, bottom, top, c.Format)
	if err != nil {
		return nil, err
	}
	s := newSVG(w, h, c.Title, c.Subtitle)
	drawGrid(s, nil, ya, left, right, top, bottom)
	groupW := (right - left) / float64(len(c.Groups))
	barW := math.Min(groupW*0.8/float64(len(c.Series)), 90)
	for g, name := range c.Groups {
		x0 := left + float64(g)*groupW + (groupW-barW*float64(len(c.Series)))/2
		for i, sr := range c.Series {
			v := sr.Values[g]
			y := ya.pos(v)
			x := x0 + float64(i)*barW
			fmt.Fprintf(&s.b, `<rect class="bar" data-series="%s" data-group="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
				esc(sr.Name), esc(name), num(x+1), num(y), num(barW-2), num(bottom-y), palette[i%len(palette)])
			s.text(x+barW/2, y-5, "middle", `font-size="11" fill="#1b2430"`, ya.format(v))
		}
		s.text(left+float64(g)*groupW+groupW/2, bottom+18, "middle", `fill="#1b2430"`, name)
	}
	drawLegend(s, names, nil, left, bottom+52)
	drawAxisLabels(s, "", c.YLabel, left, right, top, bottom)
	return s.done(), nil
}
