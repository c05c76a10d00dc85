package settlement

import "math/bits"

// percentOf returns amount × bps / 10000 rounded half up, exactly (the
// product is formed in 128 bits), for amount >= 0 and 0 <= bps <= 10000.
func percentOf(amount, bps int64) int64 {
	if amount <= 0 || bps <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(amount), uint64(bps))
	lo, carry := bits.Add64(lo, 10_000/2, 0)
	hi += carry
	// hi < 10000 since amount < 2^63 and bps <= 10000.
	q, _ := bits.Div64(hi, lo, 10_000)
	return int64(q)
}
