package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"kassa/nemesis"
	"kassa/nemesis/check"
	"kassa/nemesis/plot"
)

// errChecksFailed is a nemesis run in which some check did not hold:
// exit 1, after the report.
var errChecksFailed = errors.New("nemesis: not every check holds")

// nemesisCmd runs real regions under a seeded fault schedule with a
// checkout workload and checks the history (package nemesis).
func (e *cmdEnv) nemesisCmd(ctx context.Context, args []string) error {
	var (
		cfg      nemesis.Config
		seed     int64
		jsonFile string
		keep     bool
		plots    string
		from     string
		faults   []string
	)
	_, err := e.flags("nemesis", "Run N real regions (kassa serve processes of this binary) with every peer and client link\nthrough a proxy, drive checkouts through the failover client while a seeded schedule of\npartitions, pauses, kills, old-backup restores, clock skew and slow links runs, then heal, wait for\nconvergence, check every acknowledged write and money bound, and print the report.\nExit 0 only when every check holds.", args, func(fs *pflag.FlagSet) {
		fs.IntVar(&cfg.Regions, "regions", 3, "number of regions")
		fs.DurationVar(&cfg.Duration, "duration", time.Minute, "how long the workload runs (faults stop a sixth before the end)")
		fs.Int64Var(&seed, "seed", 1, "seed of the fault schedule and the workload's choices")
		fs.StringVar(&jsonFile, "json", "", "write the JSON report to this file")
		fs.IntVar(&cfg.Workers, "workers", 8, "concurrent checkouts")
		fs.DurationVar(&cfg.Probe, "probe", nemesis.DefaultProbe, "the failover client's liveness probe: after this long without an answer it asks the region's /healthz, and if that brings none within as long again the merchant's other operations ask that region last at once (a read is asked elsewhere too; a write waits out its attempt, as the region may still decide it); 0: a region is asked last only once an attempt has timed out (2s)")
		fs.Float64Var(&cfg.Rate, "rate", nemesis.DefaultRate, "checkouts started per second over all workers (a worker still busy starts its next at once); 0: whenever a worker is free, as fast as the regions answer")
		fs.Float64Var(&cfg.Elsewhere, "elsewhere", nemesis.DefaultElsewhere, "share (0 to 1) of hosted-page visits and follow-up calls sent first to a region other than the one that created the session")
		fs.DurationVar(&cfg.ConvergenceBound, "convergence-bound", 2*time.Second, "how soon after the heal every region's digest must be equal")
		fs.BoolVar(&keep, "keep", false, "keep the regions' data and logs (their directory is printed)")
		fs.StringVar(&plots, "plots", "", "write throughput, latency and replication lag charts (SVG) into this directory")
		fs.StringSliceVar(&faults, "faults", nil, "inject only these fault kinds (comma-separated: "+strings.Join(nemesis.Kinds, ", ")+"); default all")
		fs.StringVar(&from, "from", "", "with --plots: draw the charts from this JSON report of an earlier run instead of running")
	})
	if err != nil {
		return err
	}
	if from != "" {
		if plots == "" {
			return &usageError{"nemesis: --from needs --plots, the directory to write the charts to"}
		}
		return drawPlots(from, plots)
	}
	switch {
	case cfg.Regions < 2 || cfg.Regions > 32:
		return &usageError{fmt.Sprintf("nemesis: --regions must be between 2 and 32, got %d", cfg.Regions)}
	case cfg.Duration < 10*time.Second:
		return &usageError{fmt.Sprintf("nemesis: --duration must be at least 10s, got %s", cfg.Duration)}
	case cfg.ConvergenceBound <= 0 || cfg.ConvergenceBound > 10*time.Minute:
		return &usageError{fmt.Sprintf("nemesis: --convergence-bound must be between 1ms and 10m, got %s", cfg.ConvergenceBound)}
	case cfg.Workers < 1 || cfg.Workers > 256:
		return &usageError{fmt.Sprintf("nemesis: --workers must be between 1 and 256, got %d", cfg.Workers)}
	case !(cfg.Elsewhere >= 0 && cfg.Elsewhere <= 1): // NaN too
		return &usageError{fmt.Sprintf("nemesis: --elsewhere must be a share between 0 and 1, got %g", cfg.Elsewhere)}
	case cfg.Probe < 0 || cfg.Probe > time.Second:
		return &usageError{fmt.Sprintf("nemesis: --probe must be between 0 and 1s, got %s", cfg.Probe)}
	case !(cfg.Rate >= 0 && cfg.Rate <= 100000): // NaN too
		return &usageError{fmt.Sprintf("nemesis: --rate must be between 0 and 100000 checkouts a second, got %g", cfg.Rate)}
	}
	for _, k := range faults {
		if !slices.Contains(nemesis.Kinds, k) {
			return &usageError{fmt.Sprintf("nemesis: --faults: unknown fault kind %q (known: %s)", k, strings.Join(nemesis.Kinds, ", "))}
		}
	}
	cfg.Faults = faults
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("nemesis: the kassa binary to run regions with: %w", err)
	}
	cfg.Seed, cfg.Binary, cfg.KeepDir, cfg.Progress = uint64(seed), bin, keep, e.stderr
	res, err := nemesis.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("nemesis: %w", err)
	}
	fmt.Fprint(e.stdout, nemesis.Summary(res))
	if keep {
		fmt.Fprintf(e.stdout, "data and logs kept in %s\n", res.Dir)
	}
	if jsonFile != "" {
		b, err := nemesis.JSON(res, cfg)
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonFile, b, 0o644); err != nil {
			return fmt.Errorf("nemesis: %w", err)
		}
	}
	if plots != "" {
		if err := os.MkdirAll(plots, 0o755); err != nil {
			return fmt.Errorf("nemesis: %w", err)
		}
		if err := plot.WriteFiles(plots, res.Report.Series); err != nil {
			return fmt.Errorf("nemesis: charts: %w", err)
		}
	}
	if !res.OK {
		return errChecksFailed
	}
	return nil
}

// drawPlots writes the charts of the JSON report in file into dir.
func drawPlots(file, dir string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return &usageError{fmt.Sprintf("nemesis: --from: %v", err)}
	}
	var rep struct {
		Series check.Series `json:"series"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return &usageError{fmt.Sprintf("nemesis: --from %s is not a nemesis JSON report: %v", file, err)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nemesis: %w", err)
	}
	return plot.WriteFiles(dir, rep.Series)
}
