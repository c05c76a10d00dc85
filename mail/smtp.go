package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"kassa/outbox"
)

// SMTP is the transport that hands each message to an SMTP server
// (github.com/wneessen/go-mail), one connection per message. It is safe
// for concurrent use.
type SMTP struct {
	s      Settings
	domain string // of From: every Message-ID's right-hand side
	tls    *tls.Config
	now    func() time.Time
}

// NewSMTP returns the SMTP transport of s (defaults for zero settings).
// tlsConfig, if not nil, is the TLS configuration for starttls and tls
// (tests trust their own certificate with it); its ServerName is set to
// the host. It returns a *config.Error (relative to the mail section) for
// invalid settings.
func NewSMTP(s Settings, tlsConfig *tls.Config) (*SMTP, error) {
	s = s.WithDefaults()
	s.Transport = TransportSMTP
	if err := s.Validate(false); err != nil {
		return nil, err
	}
	from, _ := ParseAddress(s.From) // checked by Validate
	s.From = from
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	tlsConfig.ServerName = s.SMTP.Host
	return &SMTP{s: s, domain: from[strings.LastIndex(from, "@")+1:], tls: tlsConfig, now: time.Now}, nil
}

// MessageID is the Message-ID (without angle brackets) of the message
// with kassa's id: the same for every attempt, region and resend, so the
// recipient's mail system can tell a duplicate.
func (t *SMTP) MessageID(id string) string { return id + "@" + t.domain }

// Send delivers m. Its error says what failed (connecting, TLS,
// authentication, or the server's answer with its code and text) without
// the password or the recipient's full address; a permanent (5xx) answer
// says so, and is retried like any failure until max_age.
func (t *SMTP) Send(ctx context.Context, m Message) (*outbox.Receipt, error) {
	return nil, t.send(ctx, m)
}

// send is Send: an SMTP server's acceptance leaves no receipt.
func (t *SMTP) send(ctx context.Context, m Message) error {
	msg, err := t.message(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(t.s.SMTP.Port), gomail.WithTimeout(t.s.SMTP.Timeout), gomail.WithTLSConfig(t.tls),
		gomail.WithHELO(t.domain),
	}
	switch t.s.SMTP.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if t.s.SMTP.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(t.s.SMTP.Username), gomail.WithPassword(t.s.SMTP.Password))
	}
	c, err := gomail.NewClient(t.s.SMTP.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s: %s", t.addr(), t.clean(err.Error(), m.To))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*t.s.SMTP.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return t.explain(err, m.To)
	}
	return nil
}

// message builds the MIME message: text and HTML as alternatives, the
// stable Message-ID and the language.
func (t *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(t.s.FromName, t.s.From); err != nil {
		return nil, fmt.Errorf("smtp: from: %w", err)
	}
	to, err := ParseAddress(m.To)
	if err != nil {
		return nil, err
	}
	if err := msg.To(to); err != nil {
		return nil, fmt.Errorf("smtp: recipient %s refused", MaskAddress(to))
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(t.MessageID(m.ID))
	msg.SetDateWithValue(t.now())
	if m.Locale != "" && validLocale(m.Locale) {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Locale)
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	return msg, nil
}

func (t *SMTP) addr() string { return net.JoinHostPort(t.s.SMTP.Host, strconv.Itoa(t.s.SMTP.Port)) }

// explain turns a failed delivery into an error for support staff: the
// server's code, whether it is permanent, and its text.
func (t *SMTP) explain(err error, to string) error {
	var tp *textproto.Error
	var se *gomail.SendError
	switch {
	case errors.As(err, &tp):
		kind := "temporary failure"
		if tp.Code >= 500 {
			kind = "permanent failure"
		}
		step := "refused"
		if errors.As(err, &se) {
			step = "refused " + stepOf(se.Reason)
		} else if strings.Contains(err.Error(), "auth") || tp.Code == 535 || tp.Code == 534 || tp.Code == 530 {
			step = "refused authentication"
		}
		return fmt.Errorf("smtp %s %s: %s %d %s", t.addr(), step, kind, tp.Code, t.clean(tp.Msg, to))
	case errors.As(err, &se):
		kind := "permanent failure"
		if se.IsTemp() {
			kind = "temporary failure"
		}
		// The server's words, without go-mail's list of recipients and
		// message id.
		text, _, _ := strings.Cut(se.Error(), ", affected ")
		if _, rest, ok := strings.Cut(text, ": "); ok {
			text = rest
		}
		code := ""
		if c := se.ErrorCode(); c > 0 {
			code = " " + strconv.Itoa(c)
		}
		return fmt.Errorf("smtp %s refused %s: %s%s: %s", t.addr(), stepOf(se.Reason), kind, code, t.clean(text, to))
	}
	return fmt.Errorf("smtp %s: %s", t.addr(), t.clean(err.Error(), to))
}

// stepOf names the SMTP step a SendError failed at.
func stepOf(r gomail.SendErrReason) string {
	switch r {
	case gomail.ErrSMTPMailFrom:
		return "the sender (MAIL FROM)"
	case gomail.ErrSMTPRcptTo:
		return "the recipient (RCPT TO)"
	case gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
		return "the message (DATA)"
	}
	return "the delivery"
}

// clean keeps an error text to one line and out of it the recipient's
// address and the credentials.
func (t *SMTP) clean(s, to string) string {
	s = strings.Join(strings.Fields(s), " ")
	if to != "" {
		s = strings.ReplaceAll(s, to, MaskAddress(to))
	}
	if p := t.s.SMTP.Password; p != "" {
		s = strings.ReplaceAll(s, p, "[password]")
	}
	return s
}
