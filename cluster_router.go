package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"kassa/region"
	"kassa/router"
)

// clusterRouter is the router `kassa cluster` runs in front of its
// regions, listening before any region starts.
type clusterRouter struct {
	ln  net.Listener
	url string
	rt  *router.Router
	log *slog.Logger
}

// listenRouter listens on 127.0.0.1:port for a router in front of the n
// regions on consecutive ports from first.
func listenRouter(port, first, n int, base region.Config, log *slog.Logger) (*clusterRouter, error) {
	regions := make([]string, n)
	for i := range regions {
		regions[i] = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(first+i))
	}
	rt, err := router.New(router.Config{Regions: regions, MaxBodyBytes: base.HTTP.MaxBodyBytes, Logger: log,
		// A staff member's sign-in is kept by the region that made it.
		Pinned: []string{"/admin/"}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("cluster: listen for the router: %w (choose another --base-port, or --router=false)", err)
	}
	return &clusterRouter{ln: ln, url: "http://" + ln.Addr().String(), rt: rt, log: log}, nil
}

// serve runs the router and its readiness checks until ctx ends, then
// lets requests in flight finish.
func (c *clusterRouter) serve(ctx context.Context) error {
	srv := c.rt.Server()
	checks, stop := context.WithCancel(ctx)
	defer stop()
	go c.rt.Run(checks)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(c.ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), region.DefaultShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shut)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
