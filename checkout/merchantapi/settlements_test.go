package merchantapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"kassa/ledger"
	"kassa/region"
	"kassa/settlement"
)

// settle appends a capture or a refund to store as checkout records it:
// the documented data, indexed under the merchant's settlement day.
func settle(tb testing.TB, store *ledger.Store, kind, order, merchant, day, method, currency string, amount int64) {
	tb.Helper()
	data, _ := json.Marshal(map[string]any{"id": "op_" + order + "_" + kind, "amount": amount, "currency": currency,
		"merchant": merchant, "method": method, "day": day, "refs": []string{settlement.Ref(merchant, day)}})
	sign := ledger.Amount(amount)
	if kind == "order.refunded" {
		sign = -sign
	}
	_, err := store.Append(context.Background(), ledger.Draft{Kind: kind, Subject: order, Data: data, Postings: []ledger.Posting{
		{Account: "merchant:" + merchant + ":payable", Amount: -sign, Currency: currency},
		{Account: "acquirer:sim:clearing", Amount: sign, Currency: currency},
	}})
	if err != nil {
		tb.Fatal(err)
	}
}

// getCSV asks for settlements as CSV.
func getCSV(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("demo", "sk_test_demo")
	req.Header.Set("Accept", "text/csv")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestSettlementsAPI: GET /v1/settlements pages a merchant's own rows
// (never another merchant's), with fees from the settlement settings,
// answers CSV on Accept: text/csv, and refuses bad queries with 400
// invalid_request naming the field.
func TestSettlementsAPI(t *testing.T) {
	r := startRegion(t, func(c *region.Config) {
		c.Settlement = settlement.DefaultSettings()
		c.Settlement.VATBPS = 2500
	})
	store := r.r.Ledger()
	settle(t, store, "order.captured", "ord_1", "demo", "2026-03-01", "card", "SEK", 10000)
	settle(t, store, "order.captured", "ord_2", "demo", "2026-03-01", "pay_later", "SEK", 33333)
	settle(t, store, "order.captured", "ord_3", "demo", "2026-03-01", "card", "EUR", 2500)
	settle(t, store, "order.refunded", "ord_1", "demo", "2026-03-03", "card", "SEK", 4000)
	settle(t, store, "order.captured", "ord_4", "shop2", "2026-03-01", "card", "SEK", 99999)
	base := r.url + "/v1/settlements?from=2026-03-01&to=2026-03-31"

	all := call(t, "GET", base, "", nil)
	want := `{"object":"list","data":[` +
		`{"object":"settlement","merchant":"demo","date":"2026-03-01","currency":"EUR","captured":2500,"refunded":0,"captures":1,"refunds":0,"fees":35,"fee_vat":9,"net":2456},` +
		`{"object":"settlement","merchant":"demo","date":"2026-03-01","currency":"SEK","captured":43333,"refunded":0,"captures":2,"refunds":0,"fees":1317,"fee_vat":329,"net":41687},` +
		`{"object":"settlement","merchant":"demo","date":"2026-03-03","currency":"SEK","captured":0,"refunded":4000,"captures":0,"refunds":1,"fees":0,"fee_vat":0,"net":-4000}` +
		`],"has_more":false}` + "\n"
	if all.status != 200 || all.raw != want {
		t.Fatalf("got %d %s\nwant %s", all.status, all.raw, want)
	}

	// Pages of one, following the cursor.
	var cursors []string
	after := ""
	for i := 0; ; i++ {
		url := base + "&limit=1"
		if after != "" {
			url += "&starting_after=" + after
		}
		p := call(t, "GET", url, "", nil)
		data, _ := p.body["data"].([]any)
		if p.status != 200 || len(data) != 1 {
			t.Fatalf("page %d: got %d %s", i, p.status, p.raw)
		}
		row := data[0].(map[string]any)
		after = row["date"].(string) + ":" + row["currency"].(string)
		cursors = append(cursors, after)
		if p.body["has_more"] != true {
			break
		}
		if i > 5 {
			t.Fatal("more pages than rows")
		}
	}
	if got := strings.Join(cursors, " "); got != "2026-03-01:EUR 2026-03-01:SEK 2026-03-03:SEK" {
		t.Fatalf("pages: got %s", got)
	}
	if last := call(t, "GET", base+"&starting_after=2026-03-03:SEK", "", nil); last.status != 200 || !strings.Contains(last.raw, `"data":[]`) {
		t.Fatalf("after the last row: got %d %s", last.status, last.raw)
	}

	res, body := getCSV(t, base)
	wantCSV := "merchant,date,currency,captured,refunded,captures,refunds,fees,fee_vat,net\n" +
		"demo,2026-03-01,EUR,2500,0,1,0,35,9,2456\n" +
		"demo,2026-03-01,SEK,43333,0,2,0,1317,329,41687\n" +
		"demo,2026-03-03,SEK,0,4000,0,1,0,0,-4000\n"
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || body != wantCSV {
		t.Fatalf("CSV: got %d %q\n%s\nwant\n%s", res.StatusCode, res.Header.Get("Content-Type"), body, wantCSV)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="settlements-demo-2026-03-01-2026-03-31.csv"` {
		t.Fatalf("Content-Disposition: got %q", cd)
	}
	if res, body := getCSV(t, r.url+"/v1/settlements?from=2026-03-01"); res.StatusCode != 400 || !strings.Contains(body, `"field":"to"`) {
		t.Fatalf("CSV of a bad query: got %d %s, want a JSON 400", res.StatusCode, body)
	}

	for _, c := range []struct{ query, field string }{
		{"to=2026-03-01", "from"},
		{"from=2026-03-01", "to"},
		{"from=03/01/2026&to=2026-03-02", "from"},
		{"from=2026-03-01&to=2026-02-30", "to"},
		{"from=2026-03-02&to=2026-03-01", "to"},
		{"from=2026-01-01&to=2026-04-03", "to"}, // 93 days
		{"from=2026-03-01&to=2026-03-02&limit=0", "limit"},
		{"from=2026-03-01&to=2026-03-02&limit=x", "limit"},
		{"from=2026-03-01&to=2026-03-02&starting_after=ord_x", "starting_after"},
		{"from=2026-03-01&to=2026-03-02&starting_after=2026-03-01:sek", "starting_after"},
	} {
		got := call(t, "GET", r.url+"/v1/settlements?"+c.query, "", nil)
		if got.status != 400 || got.str("error", "code") != "invalid_request" || got.str("error", "field") != c.field {
			t.Errorf("%s: got %d %s, want 400 invalid_request naming %s", c.query, got.status, got.raw, c.field)
		}
	}
	if ok := call(t, "GET", r.url+"/v1/settlements?from=2026-01-01&to=2026-04-02", "", nil); ok.status != 200 {
		t.Errorf("a range of 92 days: got %d %s", ok.status, ok.raw)
	}
	if anon := callAs(t, "", "", "GET", base, "", nil); anon.status != 401 {
		t.Errorf("without credentials: got %d", anon.status)
	}
	if wrong := callAs(t, "demo", "sk_wrong", "GET", base, "", nil); wrong.status != 401 {
		t.Errorf("a wrong secret: got %d", wrong.status)
	}
}
