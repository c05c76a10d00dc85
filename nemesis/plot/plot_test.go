package plot_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kassa/nemesis/check"
	"kassa/nemesis/plot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.svg from the current output")

// run is a seeded 60 s run at about 20 operations a second with a 15 s
// partition during which a tenth of the operations go unanswered and
// authorizes slow down, a 3 s pause, and lag sampled in two regions.
func run() check.Series {
	rng := rand.New(rand.NewPCG(13, 1))
	h := check.History{
		Regions: []string{"eu", "us"},
		Faults: []check.Fault{
			{Kind: "partition", At: 20 * time.Second, Duration: 15 * time.Second, Regions: []string{"eu"}},
			{Kind: "pause", At: 45 * time.Second, Duration: 3 * time.Second, Regions: []string{"us"}},
		},
	}
	inFault := func(t time.Duration) bool {
		for _, f := range h.Faults {
			if t >= f.At && t < f.At+f.Duration {
				return true
			}
		}
		return false
	}
	kinds := []string{check.KindSession, check.KindAuthorize, check.KindCapture, check.KindRefund}
	for t := time.Duration(0); t < 60*time.Second; t += time.Duration(20+rng.IntN(60)) * time.Millisecond {
		lat := time.Duration(5+rng.IntN(30)) * time.Millisecond
		outcome := check.OutcomeOK
		if inFault(t) {
			lat *= 4
			if rng.IntN(10) == 0 {
				outcome = check.OutcomeUnavailable
			}
		}
		h.Ops = append(h.Ops, check.Op{Kind: kinds[rng.IntN(len(kinds))], Start: t, End: t + lat, Outcome: outcome})
	}
	for t := time.Second; t < 60*time.Second; t += time.Second {
		for _, r := range h.Regions {
			ms := 5 + float64(rng.IntN(20))
			if r == "eu" && t >= 20*time.Second && t < 35*time.Second {
				ms = float64(t-20*time.Second) / float64(time.Millisecond)
			}
			h.Lag = append(h.Lag, check.Sample{At: t, Region: r, Ms: ms})
		}
	}
	return check.Check(h, check.Options{}).Series
}

func TestChartsMatchGolden(t *testing.T) {
	s := run()
	for _, tt := range []struct {
		name string
		draw func(io.Writer, check.Series) error
	}{{"throughput", plot.Throughput}, {"latency", plot.Latency}, {"lag", plot.Lag}} {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := tt.draw(&got, s); err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := tt.draw(&again, s); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), again.Bytes()) {
				t.Fatal("two renderings of one series differ")
			}
			checkSVG(t, got.Bytes(), []string{"partition", "pause"})
			golden := filepath.Join("testdata", tt.name+".golden.svg")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from %s (run with -update if the change is meant)", tt.name, golden)
			}
		})
	}
}

// checkSVG parses b as XML and checks it is an SVG with a title and a
// description that screen readers are pointed at, and that every fault
// kind labels a band.
func checkSVG(t *testing.T, b []byte, kinds []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var root *xml.StartElement
	var stack []string
	var title, desc string
	var texts []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not valid XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == nil {
				e := tok.Copy()
				root = &e
			}
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 2 && stack[1] == "title" {
				title += string(tok)
			}
			if len(stack) == 2 && stack[1] == "desc" {
				desc += string(tok)
			}
			if len(stack) > 0 && stack[len(stack)-1] == "text" {
				texts = append(texts, string(tok))
			}
		}
	}
	if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("got root %+v, want an svg element in the SVG namespace", root)
	}
	attr := map[string]string{}
	for _, a := range root.Attr {
		attr[a.Name.Local] = a.Value
	}
	if attr["role"] != "img" || attr["aria-labelledby"] == "" {
		t.Errorf("got role %q aria-labelledby %q, want img and the title and desc ids", attr["role"], attr["aria-labelledby"])
	}
	if title == "" || desc == "" {
		t.Errorf("got title %q desc %q, want both", title, desc)
	}
	all := strings.Join(texts, "\n")
	for _, k := range kinds {
		if !strings.Contains(all, k) || !strings.Contains(desc, k) {
			t.Errorf("fault %q is not labelled in the chart and its description", k)
		}
	}
	if strings.Contains(string(b), "<script") {
		t.Error("chart has a script")
	}
}

func TestEmptyRun(t *testing.T) {
	s := check.Check(check.History{}, check.Options{}).Series
	for _, draw := range []func(io.Writer, check.Series) error{plot.Throughput, plot.Latency, plot.Lag} {
		var b bytes.Buffer
		if err := draw(&b, s); err != nil {
			t.Fatal(err)
		}
		checkSVG(t, b.Bytes(), nil)
		if strings.Contains(b.String(), "NaN") || strings.Contains(b.String(), "Inf") {
			t.Errorf("chart of an empty run has NaN or Inf:\n%s", b.String())
		}
	}
}

func TestTextIsEscaped(t *testing.T) {
	s := run()
	s.Faults = append(s.Faults, check.FaultReport{Kind: `slow<link> & "bridge"`, AtMs: 1000, Ms: 500})
	var b bytes.Buffer
	if err := plot.Throughput(&b, s); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes(), []string{`slow<link> & "bridge"`})
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots")
	if err := plot.WriteFiles(dir, run()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{plot.ThroughputFile, plot.LatencyFile, plot.LagFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, b, []string{"partition"})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteError(t *testing.T) {
	if err := plot.Lag(failingWriter{}, run()); err == nil {
		t.Error("got nil error from a failing writer, want one")
	}
}
