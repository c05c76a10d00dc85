package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"kassa/mail"
)

// The SMTP transport is tested against an SMTP server in this process
// (github.com/emersion/go-smtp) on 127.0.0.1: plain, STARTTLS and TLS with a
// certificate made for the test, and AUTH PLAIN.

const (
	testUser     = "kassa"
	testPassword = "s3cret-Passw0rd"
)

// received is one message the test server accepted.
type received struct {
	from string
	to   []string
	data []byte
	auth string // the user that authenticated, if any
}

type smtpServer struct {
	mu       sync.Mutex
	messages []received
	addr     string
	port     int
}

func (s *smtpServer) got() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...)
}

type session struct {
	srv  *smtpServer
	cur  received
	auth bool // offer AUTH PLAIN
}

func (s *session) AuthMechanisms() []string {
	if !s.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != testUser || pass != testPassword {
			return smtp.ErrAuthFailed
		}
		s.cur.auth = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: no such user here"}
	}
	if strings.HasPrefix(to, "busy@") {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.cur)
	s.srv.mu.Unlock()
	s.cur = received{auth: s.cur.auth}
	return nil
}

func (s *session) Reset()        { s.cur = received{auth: s.cur.auth} }
func (s *session) Logout() error { return nil }

// testCert returns a self-signed certificate for 127.0.0.1 and a pool
// that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kassa test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// startSMTP serves SMTP on 127.0.0.1 until the test ends: with STARTTLS
// when cert is given and implicit is false, TLS from the first byte when
// implicit, and AUTH PLAIN when auth.
func startSMTP(t *testing.T, cert *tls.Certificate, implicit, auth bool) *smtpServer {
	t.Helper()
	srv := &smtpServer{}
	be := smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: srv, auth: auth}, nil })
	s := smtp.NewServer(be)
	s.Domain = "mx.test"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		if implicit {
			ln = tls.NewListener(ln, cfg)
		} else {
			s.TLSConfig = cfg
		}
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	srv.addr = host
	srv.port, _ = strconv.Atoi(port)
	return srv
}

func settings(srv *smtpServer, tlsMode string) mail.Settings {
	return mail.Settings{Transport: mail.TransportSMTP, From: "invoices@shop.example", FromName: "Shop Invoices",
		SMTP: mail.SMTPSettings{Host: srv.addr, Port: srv.port, TLS: tlsMode, Timeout: 5 * time.Second}}
}

var testMessage = mail.Message{ID: "4f2a9c", To: "Ada@Example.com", Subject: "Faktura 1001 från Shop",
	Text: "Hej Ada,\nbetala senast 1 januari.", HTML: "<p>Hej <b>Ada</b>, betala senast 1 januari.</p>", Locale: "sv"}

// parse reads a received message: its headers and its text and HTML parts.
func parse(t *testing.T, data []byte) (netmail.Header, map[string]string) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return msg.Header, parts
}

func TestSMTPPlain(t *testing.T) {
	srv := startSMTP(t, nil, false, false)
	tr, err := mail.NewSMTP(settings(srv, mail.TLSNone), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	got := srv.got()
	if len(got) != 1 || got[0].from != "invoices@shop.example" || len(got[0].to) != 1 || got[0].to[0] != "ada@example.com" {
		t.Fatalf("got %+v, want one message from invoices@shop.example to ada@example.com", got)
	}
	h, parts := parse(t, got[0].data)
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(h.Get("Subject"))
	for k, want := range map[string]string{
		"Message-ID": "<4f2a9c@shop.example>", "Content-Language": "sv", "To": "<ada@example.com>",
		"From": `"Shop Invoices" <invoices@shop.example>`,
	} {
		if h.Get(k) != want {
			t.Errorf("%s: got %q, want %q", k, h.Get(k), want)
		}
	}
	if subject != testMessage.Subject {
		t.Errorf("subject: got %q, want %q", subject, testMessage.Subject)
	}
	if strings.TrimSpace(parts["text/plain"]) != testMessage.Text || strings.TrimSpace(parts["text/html"]) != testMessage.HTML {
		t.Errorf("got parts %q, want the text and the HTML", parts)
	}
	// A retry is the same message to the recipient's system.
	if _, err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	if h2, _ := parse(t, srv.got()[1].data); h2.Get("Message-ID") != h.Get("Message-ID") {
		t.Fatalf("a retry's Message-ID %q differs from %q", h2.Get("Message-ID"), h.Get("Message-ID"))
	}
}

func TestSMTPStartTLSWithAuth(t *testing.T) {
	cert, pool := testCert(t)
	srv := startSMTP(t, &cert, false, true)
	s := settings(srv, mail.TLSStartTLS)
	s.SMTP.Username, s.SMTP.Password = testUser, testPassword
	tr, err := mail.NewSMTP(s, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	if got := srv.got(); len(got) != 1 || got[0].auth != testUser {
		t.Fatalf("got %+v, want one message sent after AUTH as %s", got, testUser)
	}

	s.SMTP.Password = "wrong-password"
	bad, _ := mail.NewSMTP(s, &tls.Config{RootCAs: pool})
	_, err = bad.Send(context.Background(), testMessage)
	t.Logf("error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("bad credentials: got %v, want an error with the server's 535 and no password", err)
	}
	if len(srv.got()) != 1 {
		t.Fatal("a message was accepted without authentication")
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	cert, pool := testCert(t)
	srv := startSMTP(t, &cert, true, true)
	s := settings(srv, mail.TLSImplicit)
	s.SMTP.Username, s.SMTP.Password = testUser, testPassword
	tr, err := mail.NewSMTP(s, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Send(context.Background(), testMessage); err != nil {
		t.Fatal(err)
	}
	if got := srv.got(); len(got) != 1 || got[0].auth != testUser {
		t.Fatalf("got %+v, want one message over TLS after AUTH", got)
	}
}

func TestSMTPFailures(t *testing.T) {
	cert, pool := testCert(t)
	plain := startSMTP(t, nil, false, false)
	untrusted := startSMTP(t, &cert, false, false)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	tests := []struct {
		name   string
		s      mail.Settings
		tls    *tls.Config
		to     string
		want   []string
		absent []string
	}{
		{"permanent refusal", settings(plain, mail.TLSNone), nil, "nobody@example.com",
			[]string{"permanent failure", "550", "RCPT TO", "n***@example.com"}, []string{"nobody@example.com"}},
		{"temporary refusal", settings(plain, mail.TLSNone), nil, "busy@example.com",
			[]string{"temporary failure", "451", "try later"}, []string{"busy@example.com"}},
		{"starttls required but not offered", settings(plain, mail.TLSStartTLS), &tls.Config{RootCAs: pool}, "ada@example.com",
			[]string{"STARTTLS"}, nil},
		{"untrusted certificate", settings(untrusted, mail.TLSStartTLS), nil, "ada@example.com",
			[]string{"certificate"}, nil},
		{"nothing listening", mail.Settings{Transport: mail.TransportSMTP, From: "a@shop.example",
			SMTP: mail.SMTPSettings{Host: "127.0.0.1", Port: closedPort, TLS: mail.TLSNone, Timeout: time.Second}}, nil, "ada@example.com",
			[]string{"connection refused"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := mail.NewSMTP(tt.s, tt.tls)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage
			m.To = tt.to
			_, err = tr.Send(context.Background(), m)
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("error %q shows %q", err, a)
				}
			}
		})
	}
}

func TestNewSMTPRefusesBadSettings(t *testing.T) {
	for _, tt := range []struct {
		s   mail.Settings
		key string
	}{
		{mail.Settings{From: "a@shop.example"}, "smtp.host"},
		{mail.Settings{SMTP: mail.SMTPSettings{Host: "smtp.example"}}, "from"},
		{mail.Settings{From: "a@shop.example", SMTP: mail.SMTPSettings{Host: "smtp.example", TLS: "none", Username: "u", Password: "p"}}, "smtp.tls"},
	} {
		_, err := mail.NewSMTP(tt.s, nil)
		if err == nil || !strings.Contains(err.Error(), tt.key+":") {
			t.Errorf("%+v: got %v, want an error naming %s", tt.s, err, tt.key)
		}
	}
}
