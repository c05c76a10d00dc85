// Command kassa runs one region of the kassa payment gateway, and the
// operator sub-commands around it (keygen, verify, restore, staff). See README.md.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"kassa/region"
)

//go:embed config.yaml
var defaultConfig []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runInput(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "kassa:", err)
	}
	os.Exit(exitCode(err))
}

// usageError is bad usage of the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue *usageError
	var ce *region.ConfigError
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, &ue), errors.As(err, &ce):
		return 2
	}
	return 1
}

// run is the whole program with nothing on standard input: main only adds
// the process around it, so tests run exactly what operators run.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	return runInput(ctx, args, environ, nil, stdout, stderr)
}

// runInput is run reading standard input from stdin (the password of
// kassa staff add).
func runInput(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, named := "serve", false
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args, named = args[0], args[1:], true
	}
	env := &cmdEnv{environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	switch cmd {
	case "serve":
		if !named && len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			// Plain `kassa --help`: the commands, then serve's flags.
			fmt.Fprint(stdout, usage+"\n")
		}
		return env.serve(ctx, args)
	case "keygen":
		return env.keygen(ctx, args)
	case "verify":
		return env.verify(ctx, args)
	case "restore":
		return env.restore(ctx, args)
	case "cluster":
		return env.cluster(ctx, args)
	case "bench":
		return env.bench(ctx, args)
	case "staff":
		return env.staff(ctx, args)
	case "nemesis":
		return env.nemesisCmd(ctx, args)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
}

const usage = `usage: kassa [command] [flags]

commands:
  serve     run a region (the default): kassa serve --config config.yaml
  keygen    create the region key if absent and print its public key
  verify    check every signature, chain link and sum in a region database
  restore   restore a region database from its Litestream replica
  cluster   run a local three-region cluster r1, r2, r3
  bench     drive regions through the public API and report throughput and latency
  nemesis   run N real regions under seeded faults with a checkout workload and check it
  staff     manage staff of the admin UI: kassa staff add --username U --role admin

Run 'kassa <command> --help' for a command's flags.
`

type cmdEnv struct {
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
}
