// Package proxy is a TCP proxy for one network link whose faults a test
// harness controls: cut both ways, cut one way, slowed, healed.
//
// A Proxy owns one loopback listener and forwards every connection it
// accepts to one target address. Its invariants: a healed link forwards
// every byte unchanged and in order; a link cut both ways holds no
// connection (the open ones are reset, new ones closed at once, so callers
// fail fast as on a refused connection); a link cut one way forwards in
// the other direction and silently drops what it reads in the cut one (a
// black hole: callers find out by timing out, as behind a one-way
// firewall); a slowed link delays every chunk it forwards by the set delay.
// Bytes forwarded are counted per direction and never reset.
package proxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction names one direction of a link: Forward is from the side that
// connects (the client) to the target, Backward the answers.
type Direction int

// The directions of a link.
const (
	Forward Direction = iota
	Backward
)

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	cut       [2]bool // per Direction
	delay     time.Duration
	conns     map[*link]struct{}
	closed    bool
	bytes     [2]atomic.Int64
	wg        sync.WaitGroup
	dialLimit time.Duration
}

// link is one proxied connection pair.
type link struct{ client, server net.Conn }

func (l *link) close() {
	l.client.Close()
	l.server.Close()
}

// New listens on 127.0.0.1 at a free port and forwards to target
// (host:port). The target need not be up: a connection made while it is
// down is closed.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*link]struct{}{}, dialLimit: 2 * time.Second}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is http://Addr().
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Cut cuts the link in direction d, or both ways when both is true. A link
// cut both ways drops every connection; cut one way, it swallows what
// flows in that direction.
func (p *Proxy) Cut(both bool, d Direction) {
	p.mu.Lock()
	if both {
		p.cut = [2]bool{true, true}
	} else {
		p.cut[d] = true
	}
	var drop []*link
	if p.cut[Forward] && p.cut[Backward] {
		for l := range p.conns {
			drop = append(drop, l)
			delete(p.conns, l)
		}
	}
	p.mu.Unlock()
	for _, l := range drop {
		l.close()
	}
}

// Slow delays every chunk forwarded (either way) by d; 0 removes the delay.
func (p *Proxy) Slow(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Heal removes every cut and delay. Connections that a one-way cut left
// half deaf are reset, so their callers reconnect instead of waiting.
func (p *Proxy) Heal() {
	p.mu.Lock()
	oneWay := p.cut[Forward] != p.cut[Backward]
	p.cut = [2]bool{}
	p.delay = 0
	var drop []*link
	if oneWay {
		for l := range p.conns {
			drop = append(drop, l)
			delete(p.conns, l)
		}
	}
	p.mu.Unlock()
	for _, l := range drop {
		l.close()
	}
}

// Bytes returns the bytes forwarded so far in direction d (dropped bytes
// are not counted).
func (p *Proxy) Bytes(d Direction) int64 { return p.bytes[d].Load() }

// Close stops the listener and every connection, and waits for them.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for l := range p.conns {
		l.close()
	}
	p.conns = map[*link]struct{}{}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) state(d Direction) (cut bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[d], p.delay
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.closed || (p.cut[Forward] && p.cut[Backward])
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	s, err := net.DialTimeout("tcp", p.target, p.dialLimit)
	if err != nil {
		c.Close()
		return
	}
	l := &link{client: c, server: s}
	p.mu.Lock()
	if p.closed || (p.cut[Forward] && p.cut[Backward]) {
		p.mu.Unlock()
		l.close()
		return
	}
	p.conns[l] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pump(s, c, Forward); done <- struct{}{} }()
	go func() { p.pump(c, s, Backward); done <- struct{}{} }()
	<-done
	l.close()
	<-done
	p.mu.Lock()
	delete(p.conns, l)
	p.mu.Unlock()
}

// pump copies src to dst in direction d, applying the cut and delay in
// force when each chunk arrives.
func (p *Proxy) pump(dst, src net.Conn, d Direction) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			cut, delay := p.state(d)
			if delay > 0 {
				time.Sleep(delay) // the fault being injected, not synchronisation
				cut, _ = p.state(d)
			}
			if !cut {
				// Counted before the write, so a count read after the
				// other side saw the bytes (or answered them) includes
				// them; a chunk whose write fails is counted all the same.
				p.bytes[d].Add(int64(n))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			// Either side ending ends the pair: HTTP never half-closes.
			return
		}
	}
}
