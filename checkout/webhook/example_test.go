package webhook_test

import (
	"fmt"
	"time"

	"kassa/checkout/webhook"
)

// A merchant checks a webhook by computing the signature of the raw body
// with its webhook secret and the header's t, and comparing it with v1 in
// constant time (hmac.Equal).
func ExampleSignature() {
	body := []byte(`{"id":"9f2c","object":"event","type":"order.captured"}`)
	sent := time.Unix(1767225600, 0)
	fmt.Println(webhook.Signature("whsec_test_demo", sent, body))
	// Output: t=1767225600,v1=9c81139c3384e0e60128e0d52925b369c493470da7d732faa73a0114361b0b33
}
