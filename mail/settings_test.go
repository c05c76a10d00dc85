package mail_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"kassa/config"
	"kassa/mail"
)

func TestSettingsValidate(t *testing.T) {
	smtp := func(f func(*mail.Settings)) mail.Settings {
		s := mail.Settings{Transport: "smtp", From: "invoices@shop.example", SMTP: mail.SMTPSettings{Host: "smtp.shop.example"}}
		f(&s)
		return s
	}
	for _, tt := range []struct {
		name       string
		s          mail.Settings
		production bool
		key        string // "" for valid
	}{
		{"zero is the development default", mail.Settings{}, false, ""},
		{"defaults", mail.DefaultSettings(), false, ""},
		{"production refuses the mailbox", mail.DefaultSettings(), true, "transport"},
		{"production refuses the zero transport", mail.Settings{}, true, "transport"},
		{"production with smtp", smtp(func(*mail.Settings) {}), true, ""},
		{"unknown transport", mail.Settings{Transport: "pigeon"}, false, "transport"},
		{"smtp without host", smtp(func(s *mail.Settings) { s.SMTP.Host = "" }), false, "smtp.host"},
		{"smtp host with a port", smtp(func(s *mail.Settings) { s.SMTP.Host = "smtp.example:25" }), false, "smtp.host"},
		{"smtp host an IPv6 literal", smtp(func(s *mail.Settings) { s.SMTP.Host = "::1" }), false, "smtp.host"},
		{"smtp without from", smtp(func(s *mail.Settings) { s.From = "" }), false, "from"},
		{"from with a name", smtp(func(s *mail.Settings) { s.From = "Shop <a@shop.example>" }), false, "from"},
		{"from_name of two lines", smtp(func(s *mail.Settings) { s.FromName = "Shop\r\nBcc: x@y.z" }), false, "from_name"},
		{"port out of range", smtp(func(s *mail.Settings) { s.SMTP.Port = 70000 }), false, "smtp.port"},
		{"unknown tls", smtp(func(s *mail.Settings) { s.SMTP.TLS = "ssl" }), false, "smtp.tls"},
		{"password without username", smtp(func(s *mail.Settings) { s.SMTP.Password = "p" }), false, "smtp.username"},
		{"username without password", smtp(func(s *mail.Settings) { s.SMTP.Username = "u" }), false, "smtp.password"},
		{"auth in clear", smtp(func(s *mail.Settings) { s.SMTP.TLS, s.SMTP.Username, s.SMTP.Password = "none", "u", "p" }), false, "smtp.tls"},
		{"no auth in clear", smtp(func(s *mail.Settings) { s.SMTP.TLS = "none" }), false, ""},
		{"timeout too long", smtp(func(s *mail.Settings) { s.SMTP.Timeout = time.Hour }), false, "smtp.timeout"},
		{"max_age under a day", mail.Settings{MaxAge: time.Hour}, false, "max_age"},
		{"retry_min above retry_max", mail.Settings{RetryMin: time.Hour, RetryMax: time.Minute}, false, "retry_min"},
		{"concurrency", mail.Settings{Concurrency: -1}, false, "concurrency"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate(tt.production)
			var ce *config.Error
			switch {
			case tt.key == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.key != "" && (!errors.As(err, &ce) || ce.Key != tt.key):
				t.Fatalf("got %v, want an error naming %q", err, tt.key)
			}
		})
	}
}

func TestSettingsOutbox(t *testing.T) {
	cfg := mail.Settings{TakeoverAfter: time.Minute}.Outbox("r2", []string{"r1", "r3"})
	if cfg.Name != "mail" || cfg.Mark != mail.Mark || cfg.Kinds.Delivered != mail.KindDelivered || cfg.Kinds.Resend != mail.KindResend ||
		cfg.Kinds.Failed != mail.KindFailed || fmt.Sprint(cfg.Regions) != "[r2 r1 r3]" || cfg.TakeoverAfter != time.Minute ||
		cfg.MaxAge != mail.DefaultMaxAge || cfg.RetryMin != mail.DefaultRetryMin || cfg.Concurrency != mail.DefaultConcurrency {
		t.Fatalf("got %+v", cfg)
	}
}

// The SMTP password never prints, whether the settings are logged or
// formatted.
func TestSettingsHidePassword(t *testing.T) {
	s := mail.Settings{Transport: "smtp", SMTP: mail.SMTPSettings{Host: "smtp.example", Username: "u", Password: "hunter2-secret"}}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("settings", "smtp", s.SMTP)
	for _, out := range []string{buf.String(), fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%v", s.SMTP)} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "smtp.example") {
			t.Errorf("got %q: the password shows, or the host does not", out)
		}
	}
}
