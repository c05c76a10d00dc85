// Package plot draws a nemesis run as SVG charts: throughput, authorize
// latency and replication lag over time, with every injected fault shaded
// as a band labelled by its kind.
//
// The charts are plain SVG 1.1 written by this package (no script, no
// external library), with a title and a description for screen readers.
// Output depends only on the check.Series given: the same series always
// gives the same bytes, so charts can be committed and compared.
package plot

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"kassa/nemesis/check"
)

// Chart geometry, in SVG user units.
const (
	width   = 800
	height  = 340
	left    = 64
	right   = 24
	bottom  = 48
	plotW   = width - left - right
	bandTop = 12 // room under the plot's top edge for a band's label
	// The legend sits in rows under the title, legendCols entries a row.
	legendCols = 4
	legendW    = plotW / legendCols
)

// colour is the i-th line's colour, from a palette that stays apart for
// common colour blindness (Okabe-Ito).
func colour(i int) string {
	palette := [...]string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"}
	return palette[i%len(palette)]
}

// The file names WriteFiles gives the charts.
const (
	ThroughputFile = "throughput.svg"
	LatencyFile    = "latency.svg"
	LagFile        = "lag.svg"
)

// WriteFiles writes the three charts of s into dir (created if needed)
// as ThroughputFile, LatencyFile and LagFile.
func WriteFiles(dir string, s check.Series) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	for name, draw := range map[string]func(io.Writer, check.Series) error{
		ThroughputFile: Throughput, LatencyFile: Latency, LagFile: Lag,
	} {
		var b bytes.Buffer
		if err := draw(&b, s); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}

// Throughput writes a chart of answered and unanswered operations per
// second.
func Throughput(w io.Writer, s check.Series) error {
	per := 1000 / float64(max(s.BucketMs, 1))
	var ok, not series
	ok.name, not.name = "answered per second", "unanswered per second"
	peak, total := 0.0, 0
	for _, p := range s.Points {
		x := float64(p.AtMs)
		ok.add(x, float64(p.Answered)*per)
		not.add(x, float64(p.Unanswered)*per)
		peak = math.Max(peak, float64(p.Answered)*per)
		total += p.Answered + p.Unanswered
	}
	return chart{
		id:     "throughput",
		title:  "Throughput over the run",
		desc:   fmt.Sprintf("Operations answered and unanswered per second; %d operations in all, at most %s answered per second.", total, num(peak)),
		yLabel: "operations / s",
		lines:  []series{ok, not},
	}.write(w, s)
}

// Latency writes a chart of authorize latency, p50 and p99 per bucket;
// buckets without an authorize leave a gap.
func Latency(w io.Writer, s check.Series) error {
	var p50, p99 series
	p50.name, p99.name = "authorize p50 (ms)", "authorize p99 (ms)"
	worst := 0.0
	for _, p := range s.Points {
		if p.Authorizes == 0 {
			p50.gap()
			p99.gap()
			continue
		}
		p50.add(float64(p.AtMs), p.AuthorizeP50Ms)
		p99.add(float64(p.AtMs), p.AuthorizeP99Ms)
		worst = math.Max(worst, p.AuthorizeP99Ms)
	}
	return chart{
		id:     "latency",
		title:  "Authorize latency over the run",
		desc:   fmt.Sprintf("Authorize latency per %s s, median and 99th percentile; the worst p99 was %s ms.", num(float64(s.BucketMs)/1000), num(worst)),
		yLabel: "milliseconds",
		lines:  []series{p50, p99},
	}.write(w, s)
}

// Lag writes a chart of replication lag samples, one line per region.
func Lag(w io.Writer, s check.Series) error {
	byRegion := map[string]*series{}
	worst := 0.0
	for _, l := range s.Lag {
		r := byRegion[l.Region]
		if r == nil {
			name := "lag (ms)"
			if l.Region != "" {
				name = l.Region + " lag (ms)"
			}
			r = &series{name: name}
			byRegion[l.Region] = r
		}
		r.add(float64(l.AtMs), l.Ms)
		worst = math.Max(worst, l.Ms)
	}
	regions := make([]string, 0, len(byRegion))
	for r := range byRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	lines := make([]series, 0, len(regions))
	for _, r := range regions {
		lines = append(lines, *byRegion[r])
	}
	desc := fmt.Sprintf("Replication lag in milliseconds, %d samples over %d regions; the worst was %s ms.", len(s.Lag), len(regions), num(worst))
	if len(s.Lag) == 0 {
		desc = "No replication lag samples were recorded in this run."
	}
	return chart{id: "lag", title: "Replication lag over the run", desc: desc, yLabel: "milliseconds", lines: lines}.write(w, s)
}

// series is one line of a chart: segments of points, split at gaps.
type series struct {
	name     string
	segments [][][2]float64
	broken   bool
}

func (l *series) add(x, y float64) {
	if len(l.segments) == 0 || l.broken {
		l.segments = append(l.segments, nil)
		l.broken = false
	}
	i := len(l.segments) - 1
	l.segments[i] = append(l.segments[i], [2]float64{x, y})
}

func (l *series) gap() { l.broken = true }

type chart struct {
	id, title, desc, yLabel string
	lines                   []series
}

// write renders c over s's time span and faults.
func (c chart) write(w io.Writer, s check.Series) error {
	xMax := float64(max(s.DurationMs, 1))
	yMax := 0.0
	for _, l := range c.lines {
		for _, seg := range l.segments {
			for _, p := range seg {
				yMax = math.Max(yMax, p[1])
			}
		}
	}
	yStep := niceStep(yMax, 5)
	yTop := math.Max(yStep, math.Ceil(yMax/yStep)*yStep)
	xStepS := niceStep(xMax/1000, 10)
	rows := max(1, (len(c.lines)+legendCols-1)/legendCols)
	top := 40 + 16*rows
	plotH := height - top - bottom
	px := func(x float64) float64 { return left + x/xMax*plotW }
	py := func(y float64) float64 { return float64(top+plotH) - y/yTop*float64(plotH) }

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height, c.id, c.id)
	p(`<title id="%s-title">%s</title>`+"\n", c.id, esc(c.title))
	p(`<desc id="%s-desc">%s %s</desc>`+"\n", c.id, esc(c.desc), esc(faultSummary(s.Faults)))
	p(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	p(`<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", left, esc(c.title))

	p(`<g class="faults">` + "\n")
	for _, f := range s.Faults {
		x0 := px(math.Min(float64(f.AtMs), xMax))
		x1 := px(math.Min(float64(f.AtMs+f.Ms), xMax))
		p(`<g><title>%s</title><rect x="%s" y="%d" width="%s" height="%d" fill="#999999" fill-opacity="0.18"/>`,
			esc(faultText(f)), num(x0), top, num(math.Max(x1-x0, 1)), plotH)
		p(`<text x="%s" y="%d" font-size="10" fill="#444444">%s</text></g>`+"\n", num(x0+2), top+bandTop, esc(f.Kind))
	}
	p("</g>\n")

	p(`<g class="axes" stroke="#cccccc" stroke-width="1">` + "\n")
	yTicks := int(math.Round(yTop / yStep))
	for i := 0; i <= yTicks; i++ {
		y := float64(i) * yStep
		p(`<line x1="%d" y1="%s" x2="%d" y2="%s"/>`+"\n", left, num(py(y)), left+plotW, num(py(y)))
	}
	p("</g>\n")
	p(`<g class="labels" fill="#333333">` + "\n")
	for i := 0; i <= yTicks; i++ {
		y := float64(i) * yStep
		p(`<text x="%d" y="%s" text-anchor="end">%s</text>`+"\n", left-6, num(py(y)+4), num(y))
	}
	for i := 0; float64(i)*xStepS*1000 <= xMax; i++ {
		x := float64(i) * xStepS
		p(`<text x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", num(px(x*1000)), top+plotH+18, num(x))
	}
	p(`<text x="%d" y="%d" text-anchor="middle">seconds since the start</text>`+"\n", left+plotW/2, height-8)
	p(`<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">%s</text>`+"\n", top+plotH/2, top+plotH/2, esc(c.yLabel))
	p("</g>\n")
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333333"/>`+"\n", left, top, plotW, plotH)

	for i, l := range c.lines {
		stroke := colour(i)
		p(`<g class="line" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title>`+"\n", stroke, esc(l.name))
		for _, seg := range l.segments {
			pts := make([]string, len(seg))
			for j, pt := range seg {
				pts[j] = num(px(pt[0])) + "," + num(py(pt[1]))
			}
			if len(seg) == 1 {
				p(`<circle cx="%s" cy="%s" r="1.5" fill="%s"/>`+"\n", num(px(seg[0][0])), num(py(seg[0][1])), stroke)
				continue
			}
			p(`<polyline points="%s"/>`+"\n", strings.Join(pts, " "))
		}
		p("</g>\n")
		lx := left + legendW*(i%legendCols)
		ly := 48 + 16*(i/legendCols)
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, lx, ly-4, lx+20, ly-4, stroke)
		p(`<text x="%d" y="%d">%s</text>`+"\n", lx+26, ly, esc(l.name))
	}
	p("</svg>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("plot %s: %w", c.id, err)
	}
	return nil
}

func faultText(f check.FaultReport) string {
	t := fmt.Sprintf("%s at %s s for %s s", f.Kind, num(float64(f.AtMs)/1000), num(float64(f.Ms)/1000))
	if len(f.Regions) > 0 {
		t += " (" + strings.Join(f.Regions, ", ") + ")"
	}
	return t
}

func faultSummary(fs []check.FaultReport) string {
	if len(fs) == 0 {
		return "No faults were injected."
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = faultText(f)
	}
	return fmt.Sprintf("Shaded bands mark %d faults: %s.", len(fs), strings.Join(parts, "; "))
}

// niceStep is a step of 1, 2 or 5 times a power of ten that cuts
// [0, span] into at most about n parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// num formats v with at most one decimal, the same way every time.
func num(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
