package region_test

import (
	"io"
	"net"
	"net/http"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"kassa/region"
)

// relay is an SMTP server in this process that keeps what it is sent.
type relay struct {
	mu   sync.Mutex
	data [][]byte
	rcpt []string
}

func (r *relay) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }

type relaySession struct {
	r  *relay
	to string
}

func (s *relaySession) Reset()                                    {}
func (s *relaySession) Logout() error                             { return nil }
func (s *relaySession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *relaySession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.data, s.r.rcpt = append(s.r.data, b), append(s.r.rcpt, s.to)
	return nil
}

func (r *relay) received() ([][]byte, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.data...), append([]string(nil), r.rcpt...)
}

// TestMailSentWithSMTP: a region configured with mail.transport smtp
// sends through its SMTP server, with the message id in the Message-ID,
// records the delivery, and has no mailbox (the admin API says it is off).
func TestMailSentWithSMTP(t *testing.T) {
	rl := &relay{}
	srv := smtp.NewServer(rl)
	srv.Domain = "mx.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	rs := startMailRegions(t, 1, func(c *region.Config) {
		c.Mail.Transport, c.Mail.From, c.Mail.FromName = "smtp", "hello@shop.example", "Shop"
		c.Mail.SMTP.Host, c.Mail.SMTP.Port, c.Mail.SMTP.TLS, c.Mail.SMTP.Timeout = "127.0.0.1", port, "none", 5*time.Second
	})
	r1 := rs[0]
	if r1.r.Mailbox() != nil {
		t.Fatal("a region that sends with SMTP has a mailbox")
	}
	msg := createMerchant(t, r1, "west")
	waitFor(t, "the delivery to be recorded", 20*time.Second, func() bool {
		return len(count(t, r1, "mail.delivered", msg)) == 1
	})
	data, rcpt := rl.received()
	if len(data) != 1 || len(rcpt) != 1 || rcpt[0] != "ops@west.example" {
		t.Fatalf("the relay got %d messages to %v, want one to ops@west.example", len(data), rcpt)
	}
	m, err := netmail.ReadMessage(strings.NewReader(string(data[0])))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Header.Get("Message-Id"), "<"+msg.String()+"@shop.example>"; got != want {
		t.Fatalf("Message-ID: got %q, want %q", got, want)
	}
	if got := m.Header.Get("From"); got != `"Shop" <hello@shop.example>` {
		t.Fatalf("From: got %q", got)
	}
	if n := len(count(t, r1, "mail.received", msg)); n != 0 {
		t.Fatalf("an SMTP region wrote %d mailbox entries", n)
	}
	req, _ := http.NewRequest(http.MethodGet, r1.url+"/admin/api/mail?to=ops@west.example", nil)
	req.SetBasicAuth("admin", "admin-demo")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "mailbox_off") {
		t.Fatalf("GET /admin/api/mail: got %d %s, want 404 mailbox_off", res.StatusCode, body)
	}
	if b := r1.r.Banner(r1.host); !strings.Contains(b, "SMTP 127.0.0.1:"+strconv.Itoa(port)+" (none) from hello@shop.example") {
		t.Fatalf("the banner does not say where mail goes:\n%s", b)
	}
}
