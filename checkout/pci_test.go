package checkout_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCardDataNeverStored runs card checkouts (approved, declined, invalid)
// and then searches every file the region wrote (database, WAL, Litestream
// replica) and its logs for the card numbers and CVCs used.
func TestCardDataNeverStored(t *testing.T) {
	r1 := startRegions(t, 1, nil)[0]
	numbers := []string{"4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995", "4242424242424241"}
	cvcs := []string{"314", "271", "828", "577", "662"}
	for i, n := range numbers {
		s := call(t, "POST", r1.url+"/v1/sessions", fmt.Sprintf("pci-%d", i), sessionBody(1234, "pci"))
		card := map[string]any{"number": n[:4] + " " + n[4:8] + " " + n[8:12] + " " + n[12:], "exp_month": 11, "exp_year": time.Now().Year() + 3, "cvc": cvcs[i]}
		call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", fmt.Sprintf("pci-a-%d", i),
			map[string]any{"method": "card", "consumer": consumer("pci@example.com"), "card": card})
	}
	if err := r1.r.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	var haystacks []string
	filepath.Walk(r1.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(path)
			haystacks = append(haystacks, path+"\x00"+string(b))
		}
		return nil
	})
	haystacks = append(haystacks, "logs\x00"+r1.logs.String())
	// The search must see the card facts that are stored, or it proves nothing.
	if all := strings.Join(haystacks, ""); !strings.Contains(all, `"last4":"4242"`) || !strings.Contains(all, `"last4":"4444"`) {
		t.Fatalf("the searched files do not hold the stored card facts (searched %d files)", len(haystacks))
	}
	for _, h := range haystacks {
		name, content, _ := strings.Cut(h, "\x00")
		for i, n := range numbers {
			for _, needle := range []string{n, n[:4] + " " + n[4:8] + " " + n[8:12] + " " + n[12:], n[:12]} {
				if bytes.Contains([]byte(content), []byte(needle)) {
					t.Errorf("%s contains card number %s...", name, n[:6])
				}
			}
			if strings.Contains(content, `"cvc":"`+cvcs[i]) || strings.Contains(content, "cvc="+cvcs[i]) {
				t.Errorf("%s contains a CVC", name)
			}
		}
	}
}
