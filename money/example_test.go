package money_test

import (
	"fmt"

	"kassa/money"
)

// An amount typed by a person becomes minor units, and is written back as
// each locale writes money. Spaces inside a written amount are
// non-breaking (\u00a0), so %q shows them.
func Example() {
	amount, err := money.Parse("1 234,50", "SEK")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(amount)
	fmt.Printf("%q\n", money.Format(amount, "SEK", "sv-SE"))
	fmt.Printf("%q\n", money.Format(amount, "SEK", "en-US"))
	fmt.Printf("%q\n", money.Format(amount, "EUR", "de-DE"))
	fmt.Printf("%q\n", money.Format(amount, "GBP", "en-GB"))
	fmt.Println(money.Plain(amount, "SEK"))
	fmt.Println(money.Digits("JPY"), money.Number(1500, "JPY", "en"))
	// Output:
	// 123450
	// "1\u00a0234,50\u00a0kr"
	// "SEK\u00a01,234.50"
	// "1.234,50\u00a0€"
	// "£1,234.50"
	// 1234.50
	// 0 1,500
}
