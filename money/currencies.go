package money

import "strings"

// iso4217 is every currency in ISO 4217's list of current codes that has a
// minor unit (the precious metals, SDR, test and "no currency" codes have
// none and are left out), as of the 2025 amendments: XCG has replaced ANG,
// ZWG ZWL, SLE SLL, and HRK and CUC are withdrawn. Digits gives each one's
// minor unit.
var iso4217 = codes(`
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL
BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF
DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF
XPF YER ZAR ZMW ZWG`)

func codes(list string) map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(list) {
		m[c] = true
	}
	return m
}

// Known reports whether currency is a current ISO 4217 code with a minor
// unit, written in capitals ("SEK"): a currency an amount in minor units
// can be in. "XXX", "XAU", withdrawn codes and lowercase spellings are not.
func Known(currency string) bool { return iso4217[currency] }
