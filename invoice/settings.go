package invoice

import (
	"math/big"
	"regexp"
	"strings"
	"time"

	"kassa/config"
	"kassa/money"
)

// The defaults of Settings, which the embedded config.yaml documents under
// invoice.
const (
	DefaultLinkDays       = 180
	DefaultDaysBefore     = 3
	DefaultInterval       = time.Minute
	DefaultTakeoverAfter  = 15 * time.Minute
	DefaultPayeeName      = "Kassa Demo AB"
	DefaultPayeeIBAN      = "SE4550000000058398257466"
	DefaultPayeeBIC       = "ESSESESS"
	DefaultPayeeBankgiro  = "5050-1055"
	maxReminderFee        = 1_000_000
	maxDays               = 3650
	minReminderInterval   = time.Second
	maxReminderInterval   = 24 * time.Hour
	maxReminderTakeover   = 7 * 24 * time.Hour
	defaultReminderFeeSEK = 6000
	defaultReminderFeeEUR = 500
	defaultReminderFeeNOK = 6000
	defaultReminderFeeDKK = 5000
)

// Settings are the invoice section of the config file: the links, the
// reminder schedule and fees, and the payee's bank details.
type Settings struct {
	// BaseURL is where the invoice links point: <base_url>/invoices/<token>.
	// Empty: the deployment's site_url.
	BaseURL string `mapstructure:"base_url"`
	// LinkDays is how long after the last due date an invoice's link
	// shows it.
	LinkDays int `mapstructure:"link_days"`
	// Reminders is the schedule of reminder emails.
	Reminders Schedule `mapstructure:"reminders"`
	// ReminderFee is the fee, in minor units per currency, that the
	// overdue reminder adds to the debt; a currency not listed has none.
	// Keys are ISO currency codes (any case).
	ReminderFee map[string]int64 `mapstructure:"reminder_fee"`
	// Interval is how often a region looks for reminders to write.
	Interval time.Duration `mapstructure:"interval"`
	// TakeoverAfter is how long after a reminder falls due the first
	// other region in line waits for the capture's region to write it
	// before it writes it itself; the second waits twice as long.
	TakeoverAfter time.Duration `mapstructure:"takeover_after"`
	// Payee is where bank transfers go; the same in every region.
	Payee Payee `mapstructure:"payee"`
}

// Schedule says which reminders are sent for each unpaid instalment.
type Schedule struct {
	// DaysBefore sends a reminder this many days before the due date; 0
	// sends none.
	DaysBefore int `mapstructure:"days_before"`
	// AtDue sends one on the due date.
	AtDue bool `mapstructure:"at_due"`
	// Overdue sends one grace_days (scoring's) after the due date, when
	// the instalment counts as overdue, with the reminder fee.
	Overdue bool `mapstructure:"overdue"`
}

// DefaultSettings returns the default of every setting: the demo payee
// (production refuses it) and a reminder 3 days before, at and after the
// grace period, with a fee in SEK, NOK, DKK and EUR.
func DefaultSettings() Settings {
	return Settings{
		LinkDays:  DefaultLinkDays,
		Reminders: Schedule{DaysBefore: DefaultDaysBefore, AtDue: true, Overdue: true},
		ReminderFee: map[string]int64{
			"SEK": defaultReminderFeeSEK, "NOK": defaultReminderFeeNOK, "DKK": defaultReminderFeeDKK, "EUR": defaultReminderFeeEUR,
		},
		Interval: DefaultInterval, TakeoverAfter: DefaultTakeoverAfter,
		Payee: Payee{Name: DefaultPayeeName, IBAN: DefaultPayeeIBAN, BIC: DefaultPayeeBIC, Bankgiro: DefaultPayeeBankgiro},
	}
}

var (
	bicRe      = regexp.MustCompile(`^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$`)
	bankgiroRe = regexp.MustCompile(`^[0-9]{3,4}-[0-9]{4}$`)
)

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the invoice section. Production refuses the demo payee.
func (s Settings) Validate(production bool) error {
	if s.BaseURL != "" && !strings.HasPrefix(s.BaseURL, "https://") && !strings.HasPrefix(s.BaseURL, "http://") {
		return config.Errorf("base_url", "must be an http(s) URL or empty (the deployment's site_url), got %q", s.BaseURL)
	}
	if s.LinkDays < 1 || s.LinkDays > maxDays {
		return config.Errorf("link_days", "must be between 1 and %d, got %d", maxDays, s.LinkDays)
	}
	if s.Reminders.DaysBefore < 0 || s.Reminders.DaysBefore > 60 {
		return config.Errorf("reminders.days_before", "must be between 0 (none) and 60, got %d", s.Reminders.DaysBefore)
	}
	for cur, fee := range s.ReminderFee {
		if !money.Known(strings.ToUpper(cur)) {
			return config.Errorf("reminder_fee."+cur, "is not an ISO 4217 currency code")
		}
		if fee < 0 || fee > maxReminderFee {
			return config.Errorf("reminder_fee."+cur, "must be between 0 and %d minor units, got %d", maxReminderFee, fee)
		}
	}
	if s.Interval < minReminderInterval || s.Interval > maxReminderInterval {
		return config.Errorf("interval", "must be between %s and %s, got %s", minReminderInterval, maxReminderInterval, s.Interval)
	}
	if s.TakeoverAfter < minReminderInterval || s.TakeoverAfter > maxReminderTakeover {
		return config.Errorf("takeover_after", "must be between %s and %s, got %s", minReminderInterval, maxReminderTakeover, s.TakeoverAfter)
	}
	p := s.Payee
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 140 {
		return config.Errorf("payee.name", "is required (at most 140 characters)")
	}
	if !ValidIBAN(p.IBAN) {
		return config.Errorf("payee.iban", "must be an IBAN with a valid check (spaces allowed), got %q", p.IBAN)
	}
	if p.BIC != "" && !bicRe.MatchString(p.BIC) {
		return config.Errorf("payee.bic", "must be an 8 or 11 character BIC, got %q", p.BIC)
	}
	if p.Bankgiro != "" && !bankgiroRe.MatchString(p.Bankgiro) {
		return config.Errorf("payee.bankgiro", "must look like 5050-1055, got %q", p.Bankgiro)
	}
	if production && compactIBAN(p.IBAN) == DefaultPayeeIBAN {
		return config.Errorf("payee.iban", "the demo payee is refused in production mode: shoppers would pay someone else")
	}
	return nil
}

// Fee returns the reminder fee in currency (0: none).
func (s Settings) Fee(currency string) int64 {
	for cur, fee := range s.ReminderFee {
		if strings.EqualFold(cur, currency) {
			return fee
		}
	}
	return 0
}

func compactIBAN(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "")) }

var ibanRe = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)

// ValidIBAN reports whether s is an IBAN (spaces allowed) whose check
// digits hold (ISO 13616: mod 97 is 1).
func ValidIBAN(s string) bool {
	s = compactIBAN(s)
	if !ibanRe.MatchString(s) {
		return false
	}
	var digits strings.Builder
	for _, r := range s[4:] + s[:4] {
		if r >= 'A' && r <= 'Z' {
			digits.WriteString(big.NewInt(int64(r - 'A' + 10)).String())
		} else {
			digits.WriteRune(r)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// Normalize writes the reminder fees' currencies in capitals (the config
// file's keys reach it in lower case).
func (s *Settings) Normalize() {
	if len(s.ReminderFee) == 0 {
		return
	}
	fees := make(map[string]int64, len(s.ReminderFee))
	for cur, fee := range s.ReminderFee {
		fees[strings.ToUpper(cur)] = fee
	}
	s.ReminderFee = fees
}
