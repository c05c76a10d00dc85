package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"kassa/admin"
	"kassa/ledger"
	"kassa/region"
)

const staffUsage = `usage: kassa staff <command> [flags]

commands:
  add    add a staff member of the admin UI (the first admin, say)

Run 'kassa staff <command> --help' for a command's flags.
`

// staff runs `kassa staff <command>`.
func (e *cmdEnv) staff(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{"staff: name a command\n" + staffUsage}
	}
	switch args[0] {
	case "add":
		return e.staffAdd(ctx, args[1:])
	case "--help", "-h", "help":
		fmt.Fprint(e.stdout, staffUsage)
		return pflag.ErrHelp
	}
	return &usageError{fmt.Sprintf("staff: unknown command %q\n%s", args[0], staffUsage)}
}

// staffAdd appends a staff.added entry, signed by the region, to the
// region's ledger: the staff member can sign in at every region the entry
// reaches. The password comes from the terminal, or from standard input
// when that is not a terminal; never from a flag, which would leave it in
// the shell's history and the process list.
func (e *cmdEnv) staffAdd(ctx context.Context, args []string) error {
	var username, role string
	fs, err := e.flags("staff add", "Add a staff member of the admin UI to the region database <data_dir>/kassa.db, as a\n"+
		"staff.added entry signed by the region; it replicates to every region like any entry.\n"+
		"The password is asked for on the terminal, or read from the first line of standard\n"+
		"input when that is not a terminal; it is stored only as an argon2id hash. The region\n"+
		"key must exist (kassa keygen, or a previous start). Run it while the region is stopped.", args, func(fs *pflag.FlagSet) {
		addConfigFlags(fs, "data-dir")
		fs.StringVar(&username, "username", "", "the staff member's username (lowercase letters, digits, '.', '_', '-')")
		fs.StringVar(&role, "role", "", "viewer, support or admin")
	})
	if err != nil {
		return err
	}
	if err := admin.CheckUsername(username); err != nil {
		return &usageError{"staff add: --username: " + strings.TrimPrefix(err.Error(), "admin: ")}
	}
	if err := admin.CheckRole(role); err != nil {
		return &usageError{"staff add: --role: " + strings.TrimPrefix(err.Error(), "admin: ")}
	}
	cfg, err := e.loadConfig(fs)
	if err != nil {
		return err
	}
	key, err := region.LoadKey(cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("staff add: %w (create it with kassa keygen, or start the region once)", err)
	}
	pass, err := e.readPassword(username)
	if err != nil {
		return err
	}
	if err := admin.CheckPassword(pass); err != nil {
		return &usageError{"staff add: password: " + strings.TrimPrefix(err.Error(), "admin: ")}
	}
	keys, _ := e.keys(cfg)
	keys = e.ownKeyFor(ctx, cfg, keys)
	id := ownRegion(ctx, cfg, key.Public().(ed25519.PublicKey))
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("staff add: %w", err)
	}
	unlock, err := region.LockDataDir(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("staff add: %w: stop the region first (a second writer would fork its chain)", err)
	}
	defer unlock()
	store, err := ledger.Open(ctx, ledger.Options{Path: cfg.DBPath(), Region: id, Key: key, Keys: keys,
		Settings: cfg.Ledger, Logger: e.logger(cfg)})
	if err != nil {
		return fmt.Errorf("staff add: open %s: %w", cfg.DBPath(), err)
	}
	err = admin.AddStaff(ctx, store, cfg.AdminStaff(), username, role, pass)
	if cerr := store.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if errors.Is(err, admin.ErrStaffExists) {
		return &usageError{fmt.Sprintf("staff add: --username: %s exists (in the ledger or the config)", username)}
	}
	if err != nil {
		return fmt.Errorf("staff add: %w", err)
	}
	fmt.Fprintf(e.stdout, "added %s (%s) to %s; every region that receives the entry lets them sign in\n", username, role, cfg.DBPath())
	return nil
}

// readPassword asks for the password twice on a terminal, or reads the
// first line of a standard input that is not one.
func (e *cmdEnv) readPassword(username string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "Password for %s (at least %d characters): ", username, admin.MinPassword)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("staff add: read the password: %w", err)
		}
		fmt.Fprint(e.stderr, "Again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("staff add: read the password: %w", err)
		}
		if string(first) != string(second) {
			return "", &usageError{"staff add: password: the two passwords differ"}
		}
		return string(first), nil
	}
	if e.stdin == nil {
		return "", &usageError{"staff add: password: no standard input to read it from"}
	}
	line, err := bufio.NewReaderSize(io.LimitReader(e.stdin, 4096), 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("staff add: read the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", &usageError{"staff add: password: empty (type it at the prompt, or pipe it on standard input)"}
	}
	return line, nil
}
