package settlement

import (
	"kassa/config"
)

// The defaults of Settings: what the embedded config.yaml documents under
// settlement. They are development values, not anyone's price list.
const (
	DefaultCardRateBPS        = 140
	DefaultCardFixed          = 0
	DefaultPayLaterRateBPS    = 299
	DefaultPayLaterFixed      = 180
	DefaultInstalmentsRateBPS = 299
	DefaultInstalmentsFixed   = 180
	DefaultVATBPS             = 0
)

// Bounds of the settings.
const (
	// MaxRateBPS is 100 %: a percentage fee never exceeds the capture.
	MaxRateBPS = 10_000
	// MaxFixed bounds a fixed fee (minor units).
	MaxFixed = 1_000_000_000
)

// Fee is what kassa charges a merchant per capture of one method.
type Fee struct {
	// RateBPS is the percentage of the capture amount, in basis points
	// (140 = 1.40 %), 0 to 10000.
	RateBPS int64 `mapstructure:"rate_bps"`
	// Fixed is added per capture, in the minor units of the capture's
	// currency (180 = 1.80 SEK on a SEK capture, 1.80 EUR on a EUR one).
	Fixed int64 `mapstructure:"fixed"`
}

// On returns the fee on a capture of amount (minor units, positive):
// the rate rounded half up, plus the fixed part.
func (f Fee) On(amount int64) int64 {
	return percentOf(amount, f.RateBPS) + f.Fixed
}

// Settings are the settlement section of the config: the fee of each
// payment method and the VAT charged on fees.
type Settings struct {
	Card        Fee `mapstructure:"card"`
	PayLater    Fee `mapstructure:"pay_later"`
	Instalments Fee `mapstructure:"instalments"`
	// VATBPS is the VAT on fees in basis points (2500 = 25 %); 0 is none.
	VATBPS int64 `mapstructure:"vat_bps"`
}

// DefaultSettings returns the default of every setting.
func DefaultSettings() Settings {
	return Settings{
		Card:        Fee{RateBPS: DefaultCardRateBPS, Fixed: DefaultCardFixed},
		PayLater:    Fee{RateBPS: DefaultPayLaterRateBPS, Fixed: DefaultPayLaterFixed},
		Instalments: Fee{RateBPS: DefaultInstalmentsRateBPS, Fixed: DefaultInstalmentsFixed},
		VATBPS:      DefaultVATBPS,
	}
}

// Validate returns a *config.Error naming the first bad setting, its key
// relative to the settlement section (card.rate_bps).
func (s Settings) Validate() error {
	for _, m := range []struct {
		key string
		fee Fee
	}{{"card", s.Card}, {"pay_later", s.PayLater}, {"instalments", s.Instalments}} {
		if m.fee.RateBPS < 0 || m.fee.RateBPS > MaxRateBPS {
			return config.Errorf(m.key+".rate_bps", "must be basis points between 0 and %d (100 %%), got %d", MaxRateBPS, m.fee.RateBPS)
		}
		if m.fee.Fixed < 0 || m.fee.Fixed > MaxFixed {
			return config.Errorf(m.key+".fixed", "must be minor units between 0 and %d, got %d", MaxFixed, m.fee.Fixed)
		}
	}
	if s.VATBPS < 0 || s.VATBPS > MaxRateBPS {
		return config.Errorf("vat_bps", "must be basis points between 0 and %d (100 %%), got %d", MaxRateBPS, s.VATBPS)
	}
	return nil
}

// FeeFor returns the fee of a payment method, and false for a method that
// has none (not card, pay_later or instalments).
func (s Settings) FeeFor(method string) (Fee, bool) {
	switch method {
	case "card":
		return s.Card, true
	case "pay_later":
		return s.PayLater, true
	case "instalments":
		return s.Instalments, true
	}
	return Fee{}, false
}

// VAT returns the VAT on a fee, rounded half up.
func (s Settings) VAT(fee int64) int64 { return percentOf(fee, s.VATBPS) }
