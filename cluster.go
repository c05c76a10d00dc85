package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"kassa/region"
)

// cluster runs regions r1, r2 and r3 in this process on consecutive ports,
// each with its own data directory and key, peered with the other two: the
// multi-region behaviour of kassa with one command.
func (e *cmdEnv) cluster(ctx context.Context, args []string) error {
	var dataDir string
	var basePort int
	var withRouter bool
	fs, err := e.flags("cluster", "Run a local three-region cluster: regions r1, r2, r3 on 127.0.0.1:P, P+1, P+2,\neach with data in DIR/r1..r3, keys generated on first start, peered with each other,\nand a router on 127.0.0.1:P-1 in front of them: the one address (site_url) that checkout\nlinks name, as a load balancer would be in production. Runs until interrupted.", args, func(fs *pflag.FlagSet) {
		fs.String("config", "", "config file the regions are based on (default ./config.yaml if present, else the built-in default)")
		fs.StringVar(&dataDir, "data-dir", "./cluster-data", "parent of the regions' data directories")
		fs.IntVar(&basePort, "base-port", 8081, "port of r1; r2 and r3 take the next two, the router the one before")
		fs.BoolVar(&withRouter, "router", true, "run the router on base-port - 1 and make it every region's site_url (--router=false: none; site_url is then each region's own URL unless configured)")
		fs.String("log-level", "", "debug, info, warn or error (log.level)")
	})
	if err != nil {
		return err
	}
	if basePort < 1 || basePort > 65533 || (withRouter && basePort < 2) {
		return &region.ConfigError{Key: "base-port", Msg: fmt.Sprintf("must leave room for three ports (and the router's before them), got %d", basePort)}
	}
	base, err := e.loadConfig(fs)
	if err != nil {
		return err
	}
	// A site_url the operator set (one not derived from public_url) is kept
	// without the router; with it, the router is the site.
	siteURL := ""
	if base.SiteURL != strings.TrimRight(base.PublicURL, "/") {
		siteURL = base.SiteURL
	}
	var rtr *clusterRouter
	if withRouter {
		if rtr, err = listenRouter(basePort-1, basePort, 3, base, e.logger(base)); err != nil {
			return err
		}
		defer rtr.ln.Close()
		siteURL = rtr.url
		fmt.Fprintf(e.stdout, "checkout and API for shoppers and merchants: %s (a router in front of r1, r2, r3)\n", rtr.url)
	}
	ids := []string{"r1", "r2", "r3"}
	cfgs := make([]region.Config, len(ids))
	pubs := make([]string, len(ids))
	for i, id := range ids {
		c := base
		c.Region = id
		c.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(basePort+i))
		c.DataDir = filepath.Join(dataDir, id)
		c.KeyFile, c.Backup.URL, c.PublicURL, c.SiteURL = "", "", "", siteURL
		c.Peers = nil
		if err := c.Normalize(); err != nil {
			return err
		}
		key, _, err := region.EnsureKey(c.KeyFile)
		if err != nil {
			return err
		}
		pubs[i] = region.PublicKeyString(key)
		cfgs[i] = c
	}
	for i := range cfgs {
		for j, id := range ids {
			if i != j {
				cfgs[i].Peers = append(cfgs[i].Peers, region.Peer{ID: id, URL: cfgs[j].PublicURL, PublicKey: pubs[j]})
			}
		}
		if i > 0 && cfgs[i].Mode == "development" && cfgs[i].Checkout.AcquirerURL == "" {
			// One acquirer for the cluster: a capture in any region
			// reaches the payment its authorization made.
			cfgs[i].Checkout.AcquirerURL = cfgs[0].PublicURL + region.SimulatorPath
		}
		if err := cfgs[i].Validate(); err != nil {
			return err
		}
	}
	log := e.logger(base)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, c := range cfgs {
		ln, err := net.Listen("tcp", c.Listen)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("cluster: listen on %s for %s: %w", c.Listen, c.Region, err)
		}
		r, err := region.New(ctx, c, log)
		if err != nil {
			ln.Close()
			cancel()
			wg.Wait()
			return fmt.Errorf("cluster: %s: %w", c.Region, err)
		}
		fmt.Fprint(e.stdout, r.Banner(ln.Addr().String()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := errors.Join(r.Serve(ctx, ln), r.Close())
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", cfgs[i].Region, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	if rtr != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rtr.serve(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("router: %w", err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	fmt.Fprintf(e.stdout, "cluster of %d regions running; Ctrl+C stops all of them\n", len(cfgs))
	wg.Wait()
	return errors.Join(errs...)
}
