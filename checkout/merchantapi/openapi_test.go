package merchantapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kassa/checkout"
	"kassa/checkout/merchantapi"
	"kassa/region"
	"kassa/settlement"
)

// oaDoc is the part of an OpenAPI 3.0 document these tests read.
type oaDoc struct {
	OpenAPI  string `json:"openapi"`
	Servers  []struct{ URL string }
	Security []map[string][]string
	Paths    map[string]oaPathItem
	// Components holds what $refs point at.
	Components struct {
		Schemas         map[string]*oaSchema
		Responses       map[string]*oaResponse
		Parameters      map[string]*oaParameter
		SecuritySchemes map[string]struct{ Type, Scheme string }
	}
}

type oaPathItem struct {
	Get, Put, Post, Delete, Patch, Head, Options *oaOperation
}

// operations returns the path item's operations by HTTP method.
func (p oaPathItem) operations() map[string]*oaOperation {
	ops := map[string]*oaOperation{}
	for m, op := range map[string]*oaOperation{
		http.MethodGet: p.Get, http.MethodPut: p.Put, http.MethodPost: p.Post, http.MethodDelete: p.Delete,
		http.MethodPatch: p.Patch, http.MethodHead: p.Head, http.MethodOptions: p.Options,
	} {
		if op != nil {
			ops[m] = op
		}
	}
	return ops
}

type oaOperation struct {
	OperationID string `json:"operationId"`
	Security    *[]map[string][]string
	Parameters  []*oaParameter
	RequestBody *struct {
		Required bool
		Content  map[string]struct{ Schema *oaSchema }
	} `json:"requestBody"`
	Responses map[string]*oaResponse
}

type oaParameter struct {
	Ref      string `json:"$ref"`
	Name, In string
	Required bool
	Schema   *oaSchema
}

type oaResponse struct {
	Ref         string `json:"$ref"`
	Description string
	Headers     map[string]json.RawMessage
	Content     map[string]struct{ Schema *oaSchema }
}

type oaSchema struct {
	Ref         string `json:"$ref"`
	Type        string
	Format      string
	Description string
	Enum        []any
	Required    []string
	Properties  map[string]*oaSchema
	Items       *oaSchema
	Example     json.RawMessage
}

const schemaPrefix = "#/components/schemas/"

func (d *oaDoc) schema(t *testing.T, s *oaSchema) *oaSchema {
	t.Helper()
	for s != nil && s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, schemaPrefix)
		if !ok || d.Components.Schemas[name] == nil {
			t.Fatalf("unresolved schema $ref %q", s.Ref)
		}
		s = d.Components.Schemas[name]
	}
	return s
}

func (d *oaDoc) response(t *testing.T, r *oaResponse) *oaResponse {
	t.Helper()
	if r != nil && r.Ref != "" {
		name, _ := strings.CutPrefix(r.Ref, "#/components/responses/")
		if d.Components.Responses[name] == nil {
			t.Fatalf("unresolved response $ref %q", r.Ref)
		}
		return d.Components.Responses[name]
	}
	return r
}

func (d *oaDoc) parameter(t *testing.T, p *oaParameter) *oaParameter {
	t.Helper()
	if p.Ref != "" {
		name, _ := strings.CutPrefix(p.Ref, "#/components/parameters/")
		if d.Components.Parameters[name] == nil {
			t.Fatalf("unresolved parameter $ref %q", p.Ref)
		}
		return d.Components.Parameters[name]
	}
	return p
}

// readOpenAPI reads the document as it is embedded, checks that every $ref
// in it resolves, and parses it.
func readOpenAPI(t *testing.T) ([]byte, *oaDoc) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var refs func(v any)
	refs = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					node := tree
					for _, part := range strings.Split(strings.TrimPrefix(s, "#/"), "/") {
						m, _ := node.(map[string]any)
						node = m[part]
					}
					if !strings.HasPrefix(s, "#/") || node == nil {
						t.Errorf("$ref %q does not resolve", s)
					}
				}
				refs(x)
			}
		case []any:
			for _, x := range v {
				refs(x)
			}
		}
	}
	refs(tree)
	doc := &oaDoc{}
	if err := json.Unmarshal(raw, doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return raw, doc
}

var muxVar = regexp.MustCompile(`\{([^{}:]+)(:[^{}]*)?\}`)

// TestOpenAPI keeps the hand-written openapi.json true to the code:
// the same routes and methods as API.Routes; path, query and Idempotency-Key
// parameters and the statuses API.merchant answers on every route; schemas
// with exactly the JSON fields of the Go types (required = not omitempty);
// every error code of api.go listed with its status; request examples the
// API accepts; real answers of a running region whose status, headers and
// body (every key declared, required keys present, enums) are documented;
// and GET /v1/openapi.json serving the file itself.
func TestOpenAPI(t *testing.T) {
	raw, doc := readOpenAPI(t)
	r1 := startRegion(t, func(c *region.Config) {
		// The stalling test card becomes an unknown outcome quickly.
		c.Checkout.AcquirerTimeout = 300 * time.Millisecond
	})

	t.Run("document", func(t *testing.T) {
		if doc.OpenAPI != "3.0.3" {
			t.Errorf("openapi: got %q, want 3.0.3", doc.OpenAPI)
		}
		if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
			t.Errorf("servers: got %+v, want one relative server \"/\"", doc.Servers)
		}
		basic := ""
		for name, s := range doc.Components.SecuritySchemes {
			if s.Type == "http" && s.Scheme == "basic" {
				basic = name
			}
		}
		if basic == "" || len(doc.Security) != 1 || doc.Security[0][basic] == nil {
			t.Errorf("security: got %v with schemes %+v, want HTTP Basic for every operation", doc.Security, doc.Components.SecuritySchemes)
		}
	})

	t.Run("routes", func(t *testing.T) {
		r := mux.NewRouter()
		merchantapi.New(r1.r.Checkout(), nil, nil, nil).Routes(r)
		routes := map[string]bool{}
		err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			tpl, err := route.GetPathTemplate()
			if err != nil {
				return nil
			}
			methods, err := route.GetMethods()
			if err != nil {
				if route.GetHandler() != nil {
					t.Errorf("route %s answers every method; give it Methods(...) and document them", tpl)
				}
				return nil // a prefix for subroutes
			}
			for _, m := range methods {
				routes[m+" "+muxVar.ReplaceAllString(tpl, "{$1}")] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(routes) == 0 {
			t.Fatal("walked no routes")
		}
		documented := map[string]bool{}
		for path, item := range doc.Paths {
			for m := range item.operations() {
				documented[m+" "+path] = true
			}
		}
		for _, rt := range sortedKeys(routes) {
			if !documented[rt] {
				t.Errorf("route %s is served but not in openapi.json", rt)
			}
		}
		for _, rt := range sortedKeys(documented) {
			if !routes[rt] {
				t.Errorf("openapi.json documents %s, which API.Routes does not serve", rt)
			}
		}
	})

	t.Run("operations", func(t *testing.T) {
		src, err := os.ReadFile("api.go")
		if err != nil {
			t.Fatal(err)
		}
		// The query parameters listOrders reads, and listSettlements.
		queryOf := func(src []byte, file string) []string {
			var query []string
			for _, m := range regexp.MustCompile(`q\.Get\("([a-z_]+)"\)`).FindAllStringSubmatch(string(src), -1) {
				query = append(query, m[1])
			}
			if len(query) == 0 {
				t.Fatalf(`found no q.Get("...") in %s; update this test to find the query parameters`, file)
			}
			return query
		}
		settleSrc, err := os.ReadFile("settlements.go")
		if err != nil {
			t.Fatal(err)
		}
		queries := map[string][]string{"/v1/orders": queryOf(src, "api.go"), "/v1/settlements": queryOf(settleSrc, "settlements.go")}
		ids := map[string]string{}
		for path, item := range doc.Paths {
			for method, op := range item.operations() {
				where := method + " " + path
				if op.OperationID == "" {
					t.Errorf("%s: no operationId", where)
				} else if other, dup := ids[op.OperationID]; dup {
					t.Errorf("%s: operationId %q is also %s's", where, op.OperationID, other)
				}
				ids[op.OperationID] = where
				params := map[string]*oaParameter{}
				for _, p := range op.Parameters {
					p = doc.parameter(t, p)
					params[p.In+":"+p.Name] = p
				}
				for _, m := range muxVar.FindAllStringSubmatch(path, -1) {
					if p := params["path:"+m[1]]; p == nil || !p.Required {
						t.Errorf("%s: path parameter %s is not declared (required)", where, m[1])
					}
				}
				if method == http.MethodGet {
					for _, q := range queries[path] {
						if params["query:"+q] == nil {
							t.Errorf("%s: api.go reads query parameter %s, which is not documented", where, q)
						}
					}
				}
				if path == "/v1/openapi.json" {
					if op.Security == nil || len(*op.Security) != 0 {
						t.Errorf("%s: served without authentication, so it needs \"security\": []", where)
					}
					continue
				}
				// What API.merchant answers on every route, and on every POST.
				want := []string{"401", "429", "500"}
				if method == http.MethodPost {
					if p := params["header:Idempotency-Key"]; p == nil || !p.Required {
						t.Errorf("%s: no required Idempotency-Key header parameter", where)
					}
					if op.RequestBody == nil || op.RequestBody.Content["application/json"].Schema == nil {
						t.Errorf("%s: no application/json request body", where)
					}
					want = append(want, "400", "413", "503")
				}
				for _, code := range want {
					if op.Responses[code] == nil {
						t.Errorf("%s: answers %s but does not document it", where, code)
					}
				}
				for code, r := range op.Responses {
					r = doc.response(t, r)
					if r.Content["application/json"].Schema == nil {
						t.Errorf("%s %s: no application/json schema", where, code)
					}
					if (code == "429" || code == "503") && r.Headers["Retry-After"] == nil {
						t.Errorf("%s %s: no Retry-After header", where, code)
					}
				}
			}
		}
	})

	t.Run("error codes", func(t *testing.T) {
		var src []byte
		for _, file := range []string{"api.go", "settlements.go"} {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			src = append(src, b...)
		}
		errBody := doc.Components.Schemas["ErrorBody"]
		errSchema := doc.Components.Schemas["Error"]
		if errBody == nil || errSchema == nil || errSchema.Properties["error"] == nil ||
			doc.schema(t, errSchema.Properties["error"]) != errBody {
			t.Fatal(`want components.schemas Error {"error": ErrorBody}`)
		}
		for _, f := range []string{"code", "message", "field", "correlation_id"} {
			if errBody.Properties[f] == nil {
				t.Errorf("ErrorBody lacks %s", f)
			}
		}
		// The code list is the code property's description: "- `code` (status): ...".
		documented := map[string]string{}
		for _, m := range regexp.MustCompile("`([a-z_]+)` \\((\\d{3})\\)").FindAllStringSubmatch(errBody.Properties["code"].Description, -1) {
			documented[m[1]] = m[2]
		}
		codes := regexp.MustCompile(`Code:\s*"([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
		if len(codes) < 5 {
			t.Fatalf("found %d error codes in api.go; update this test to find them", len(codes))
		}
		for _, m := range codes {
			if _, ok := documented[m[1]]; !ok {
				t.Errorf("api.go answers error code %q, which ErrorBody.code does not list", m[1])
			}
		}
		for _, m := range regexp.MustCompile(`Status:\s*(\d{3}),\s*Code:\s*"([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
			if got, ok := documented[m[2]]; ok && got != m[1] {
				t.Errorf("error code %s: documented with status %s, api.go answers %s", m[2], got, m[1])
			}
		}
	})

	t.Run("schemas match Go types", func(t *testing.T) {
		for name, v := range map[string]any{
			"Line": checkout.Line{}, "URLs": checkout.URLs{}, "SessionRequest": checkout.SessionRequest{},
			"Session": checkout.Session{}, "Consumer": checkout.Consumer{}, "CardInput": checkout.CardInput{},
			"AuthorizeRequest": checkout.AuthorizeRequest{}, "Decision": checkout.Decision{},
			"CardFacts": checkout.CardFacts{}, "Movement": checkout.Movement{},
			"ConsumerView": checkout.ConsumerView{}, "Order": checkout.Order{},
			"Settlement": settlement.Row{},
		} {
			t.Run(name, func(t *testing.T) {
				s := doc.Components.Schemas[name]
				if s == nil {
					t.Fatalf("components.schemas has no %s", name)
				}
				checkStruct(t, doc, s, reflect.TypeOf(v))
			})
		}
	})

	t.Run("examples", func(t *testing.T) {
		// The documented request examples are accepted as they are.
		ex := func(name string) json.RawMessage {
			s := doc.Components.Schemas[name]
			if s == nil || len(s.Example) == 0 {
				t.Fatalf("schema %s has no example", name)
			}
			return s.Example
		}
		s := call(t, "POST", r1.url+"/v1/sessions", "oa-example", string(ex("SessionRequest")))
		checkAnswer(t, doc, "POST", "/v1/sessions", s, 201)
		o := call(t, "POST", r1.url+"/v1/sessions/"+s.str("id")+"/authorize", "oa-example-auth", string(ex("AuthorizeRequest")))
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize", o, 201)
		c := call(t, "POST", r1.url+"/v1/orders/"+o.str("id")+"/captures", "oa-example-cap", string(ex("AmountRequest")))
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/captures", c, 201)
		var e any
		if err := json.Unmarshal(ex("Error"), &e); err != nil {
			t.Fatal(err)
		}
		conform(t, doc, "Error example", doc.Components.Schemas["Error"], e)
	})

	t.Run("answers", func(t *testing.T) {
		base := r1.url + "/v1"
		year := time.Now().Year() + 2
		card := func(number string) map[string]any {
			return map[string]any{"number": number, "exp_month": 12, "exp_year": year, "cvc": "123"}
		}
		s := call(t, "POST", base+"/sessions", "oa-1", sessionBody(30000, "oa-ref"))
		checkAnswer(t, doc, "POST", "/v1/sessions", s, 201)
		checkAnswer(t, doc, "POST", "/v1/sessions", call(t, "POST", base+"/sessions", "oa-1", sessionBody(30000, "oa-ref")), 201)
		checkAnswer(t, doc, "POST", "/v1/sessions", call(t, "POST", base+"/sessions", "oa-1", sessionBody(100, "oa-ref")), 409)
		checkAnswer(t, doc, "POST", "/v1/sessions", call(t, "POST", base+"/sessions", "oa-bad", sessionBody(-1, "oa-ref")), 400)
		checkAnswer(t, doc, "POST", "/v1/sessions", call(t, "POST", base+"/sessions", "oa-big", strings.Repeat(" ", 1<<20+1)), 413)
		checkAnswer(t, doc, "POST", "/v1/sessions", callAs(t, "", "", "POST", base+"/sessions", "oa-2", sessionBody(1, "r")), 401)
		checkAnswer(t, doc, "GET", "/v1/sessions/{id}", call(t, "GET", base+"/sessions/"+s.str("id"), "", nil), 200)
		checkAnswer(t, doc, "GET", "/v1/sessions/{id}", call(t, "GET", base+"/sessions/ses_nope", "", nil), 404)

		auth := map[string]any{"method": "pay_later", "consumer": consumer("oa@example.com")}
		o := call(t, "POST", base+"/sessions/"+s.str("id")+"/authorize", "oa-1-auth", auth)
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize", o, 201)
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize", call(t, "POST", base+"/sessions/"+s.str("id")+"/authorize", "oa-1-auth", auth), 201)
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize",
			call(t, "POST", base+"/sessions/"+s.str("id")+"/authorize", "oa-1-auth2", map[string]any{"method": "card", "consumer": consumer("oa@example.com"), "card": card("4242 4242 4242 4242")}), 409)
		if g := call(t, "GET", base+"/sessions/"+s.str("id"), "", nil); g.str("status") != "complete" || g.str("order_id") != o.str("id") {
			t.Fatalf("session after authorize: got %s", g.raw)
		} else {
			checkAnswer(t, doc, "GET", "/v1/sessions/{id}", g, 200)
		}

		ord := base + "/orders/" + o.str("id")
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/captures", call(t, "POST", ord+"/captures", "oa-cap", map[string]any{"amount": 10000}), 201)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/captures", call(t, "POST", ord+"/captures", "oa-cap-2", map[string]any{"amount": 999999}), 400)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/refunds", call(t, "POST", ord+"/refunds", "oa-ref", map[string]any{"amount": 4000}), 201)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/cancel", call(t, "POST", ord+"/cancel", "oa-cancel", nil), 409)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/extend", call(t, "POST", ord+"/extend", "oa-ext", nil), 200)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/release", call(t, "POST", ord+"/release", "oa-rel", `{}`), 200)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/release", call(t, "POST", ord+"/release", "oa-rel-2", `{"why":1}`), 400)
		got := call(t, "GET", ord, "", nil)
		checkAnswer(t, doc, "GET", "/v1/orders/{id}", got, 200)
		caps, _ := got.body["captures"].([]any)
		refs, _ := got.body["refunds"].([]any)
		if got.str("status") != "captured" || len(caps) != 1 || len(refs) != 1 {
			t.Fatalf("order after capture, refund and release: got %s", got.raw)
		}
		checkAnswer(t, doc, "GET", "/v1/orders/{id}", call(t, "GET", base+"/orders/ord_nope", "", nil), 404)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/captures", call(t, "POST", base+"/orders/ord_nope/captures", "oa-x", nil), 404)

		c := call(t, "POST", base+"/sessions", "oa-3", sessionBody(5000, "oa-ref"))
		co := call(t, "POST", base+"/sessions/"+c.str("id")+"/authorize", "oa-3-auth", map[string]any{"method": "card", "consumer": consumer("card@example.com"), "card": card("4242 4242 4242 4242")})
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize", co, 201)
		if co.str("card", "last4") != "4242" {
			t.Fatalf("card order: got %s", co.raw)
		}
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/cancel", call(t, "POST", base+"/orders/"+co.str("id")+"/cancel", "oa-cancel-2", nil), 200)

		// Declined: instalments under the minimum, and an amount over the
		// pay-later limit (card only).
		d := call(t, "POST", base+"/sessions", "oa-4", sessionBody(5000, "oa-ref"))
		dec := call(t, "POST", base+"/sessions/"+d.str("id")+"/authorize", "oa-4-auth", map[string]any{"method": "instalments", "consumer": consumer("d@example.com")})
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize", dec, 402)
		big := call(t, "POST", base+"/sessions", "oa-5", sessionBody(9_000_000, "oa-big"))
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize",
			call(t, "POST", base+"/sessions/"+big.str("id")+"/authorize", "oa-5-auth", map[string]any{"method": "pay_later", "consumer": consumer("d@example.com")}), 402)
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize",
			call(t, "POST", base+"/sessions/"+big.str("id")+"/authorize", "oa-5-auth2", map[string]any{"method": "card", "consumer": consumer("d@example.com"), "card": card("4000 0000 0000 0002")}), 402)
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize",
			call(t, "POST", base+"/sessions/"+big.str("id")+"/authorize", "oa-5-auth3", map[string]any{"method": "card", "consumer": consumer("d@example.com"), "card": card("4242 4242 4242 4241")}), 400)
		checkAnswer(t, doc, "POST", "/v1/orders/{id}/captures", call(t, "POST", base+"/orders/"+dec.str("id")+"/captures", "oa-x2", nil), 409)
		checkAnswer(t, doc, "GET", "/v1/orders/{id}", call(t, "GET", base+"/orders/"+dec.str("id"), "", nil), 200)

		// Pending: the acquirer holds its answer back past the timeout.
		p := call(t, "POST", base+"/sessions", "oa-6", sessionBody(5000, "oa-ref"))
		po := call(t, "POST", base+"/sessions/"+p.str("id")+"/authorize", "oa-6-auth", map[string]any{"method": "card", "consumer": consumer("p@example.com"), "card": card("4000 0000 0000 3220")})
		checkAnswer(t, doc, "POST", "/v1/sessions/{id}/authorize", po, 202)
		if ps := call(t, "GET", base+"/sessions/"+p.str("id"), "", nil); ps.str("status") != "processing" {
			t.Fatalf("session with a pending order: got %s", ps.raw)
		} else {
			checkAnswer(t, doc, "GET", "/v1/sessions/{id}", ps, 200)
		}

		list := call(t, "GET", base+"/orders?merchant_reference=oa-ref&limit=2", "", nil)
		checkAnswer(t, doc, "GET", "/v1/orders", list, 200)
		data, _ := list.body["data"].([]any)
		if len(data) != 2 || list.body["has_more"] != true {
			t.Fatalf("first page: got %s", list.raw)
		}
		last, _ := data[1].(map[string]any)["id"].(string)
		checkAnswer(t, doc, "GET", "/v1/orders", call(t, "GET", base+"/orders?merchant_reference=oa-ref&starting_after="+last, "", nil), 200)
		checkAnswer(t, doc, "GET", "/v1/orders", call(t, "GET", base+"/orders?merchant_reference=oa-ref&limit=0", "", nil), 400)
		if bad := call(t, "GET", base+"/orders?merchant_reference=oa-ref&starting_after=page2", "", nil); bad.status != 400 || !strings.Contains(bad.raw, "starting_after") {
			t.Fatalf("a cursor that is not an order id: got %d %s, want 400 naming starting_after", bad.status, bad.raw)
		} else {
			checkAnswer(t, doc, "GET", "/v1/orders", bad, 400)
		}
		checkAnswer(t, doc, "GET", "/v1/orders", call(t, "GET", base+"/orders", "", nil), 400)

		// Settlements: entries as checkout records them, on two days.
		store := r1.r.Ledger()
		settle(t, store, "order.captured", "ord_oa1", "demo", "2026-03-01", "card", "SEK", 10000)
		settle(t, store, "order.captured", "ord_oa2", "demo", "2026-03-01", "card", "EUR", 2000)
		settle(t, store, "order.refunded", "ord_oa1", "demo", "2026-03-02", "card", "SEK", 500)
		sl := call(t, "GET", base+"/settlements?from=2026-03-01&to=2026-03-31&limit=2", "", nil)
		checkAnswer(t, doc, "GET", "/v1/settlements", sl, 200)
		if rows, _ := sl.body["data"].([]any); len(rows) != 2 || sl.body["has_more"] != true {
			t.Fatalf("settlements, first page: got %s", sl.raw)
		}
		checkAnswer(t, doc, "GET", "/v1/settlements", call(t, "GET", base+"/settlements?from=2026-03-01&to=2026-03-31&starting_after=2026-03-01:SEK", "", nil), 200)
		for _, q := range []string{"to=2026-03-01", "from=2026-03-01", "from=2026-3-1&to=2026-03-02", "from=2026-03-02&to=2026-03-01",
			"from=2026-01-01&to=2026-12-31", "from=2026-03-01&to=2026-03-02&limit=101", "from=2026-03-01&to=2026-03-02&starting_after=SEK"} {
			checkAnswer(t, doc, "GET", "/v1/settlements", call(t, "GET", base+"/settlements?"+q, "", nil), 400)
		}
		checkAnswer(t, doc, "GET", "/v1/settlements", callAs(t, "", "", "GET", base+"/settlements?from=2026-03-01&to=2026-03-02", "", nil), 401)
	})

	t.Run("rate limited", func(t *testing.T) {
		rl := startRegion(t, func(c *region.Config) { c.Checkout.RatePerClient = 1 })
		for i := 0; ; i++ {
			res := call(t, "GET", rl.url+"/v1/orders/ord_nope", "", nil)
			if res.status == 429 {
				checkAnswer(t, doc, "GET", "/v1/orders/{id}", res, 429)
				break
			}
			if i == 10 {
				t.Fatalf("10 requests at once were not rate limited at 1/s")
			}
		}
	})

	t.Run("served", func(t *testing.T) {
		res, err := http.Get(r1.url + "/v1/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /v1/openapi.json: got %d %q, want 200 application/json", res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !bytes.Equal(body, raw) {
			t.Fatalf("GET /v1/openapi.json served %d bytes that differ from openapi.json (%d bytes)", len(body), len(raw))
		}
	})
}

// checkAnswer checks that a real answer has the status wantStatus, that the
// operation documents that status, the headers sent and the body's shape.
func checkAnswer(t *testing.T, doc *oaDoc, method, path string, res response, wantStatus int) {
	t.Helper()
	where := fmt.Sprintf("%s %s %d", method, path, res.status)
	if res.status != wantStatus {
		t.Fatalf("%s: got %d %s, want %d", where, res.status, res.raw, wantStatus)
	}
	item, ok := doc.Paths[path]
	op := item.operations()[method]
	if !ok || op == nil {
		t.Fatalf("%s %s is not documented", method, path)
	}
	r := doc.response(t, op.Responses[strconv.Itoa(res.status)])
	if r == nil {
		t.Fatalf("%s: status not documented (answer %s)", where, res.raw)
	}
	for _, h := range []string{"Retry-After", "Idempotent-Replayed", "WWW-Authenticate", "Kassa-Correlation-Id"} {
		if res.header.Get(h) != "" && r.Headers[h] == nil {
			t.Errorf("%s: sends header %s, which is not documented", where, h)
		}
	}
	s := r.Content["application/json"].Schema
	if s == nil {
		t.Fatalf("%s: no application/json schema", where)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", where, ct)
	}
	var v any
	if err := json.Unmarshal([]byte(res.raw), &v); err != nil {
		t.Fatalf("%s: %v in %s", where, err, res.raw)
	}
	conform(t, doc, where, s, v)
}

// conform checks that v has the shape of s: required keys present, every key
// declared, types, formats and enums as documented.
func conform(t *testing.T, doc *oaDoc, where string, s *oaSchema, v any) {
	t.Helper()
	s = doc.schema(t, s)
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		t.Errorf("%s: %v is not one of %v", where, v, s.Enum)
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", where, v)
			return
		}
		for _, k := range s.Required {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: lacks required %q", where, k)
			}
		}
		for _, k := range sortedKeys(m) {
			p := s.Properties[k]
			if p == nil {
				t.Errorf("%s: has %q, which the schema does not declare", where, k)
				continue
			}
			conform(t, doc, where+"."+k, p, m[k])
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			t.Errorf("%s: got %T, want an array", where, v)
			return
		}
		for i, x := range a {
			conform(t, doc, fmt.Sprintf("%s[%d]", where, i), s.Items, x)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			t.Errorf("%s: got %T, want a string", where, v)
			return
		}
		if _, err := time.Parse(time.RFC3339, str); s.Format == "date-time" && err != nil {
			t.Errorf("%s: %q is not a date-time", where, str)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			t.Errorf("%s: got %v, want an integer", where, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: got %T, want a boolean", where, v)
		}
	default:
		t.Errorf("%s: schema without a type this test knows (%q)", where, s.Type)
	}
}

// checkStruct checks that an object schema declares exactly the JSON fields
// of the Go struct typ, requires those without omitempty, and gives each
// field a matching type.
func checkStruct(t *testing.T, doc *oaDoc, s *oaSchema, typ reflect.Type) {
	t.Helper()
	if s.Type != "object" {
		t.Fatalf("type %q, want object", s.Type)
	}
	fields := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = true
		p := s.Properties[name]
		if p == nil {
			t.Errorf("%s.%s (json %q) is not a property", typ.Name(), f.Name, name)
			continue
		}
		optional := strings.Contains(","+opts+",", ",omitempty,")
		if required := slices.Contains(s.Required, name); required == optional {
			t.Errorf("%q: required is %v, want %v (omitempty on the Go field is %v)", name, required, !optional, optional)
		}
		checkFieldType(t, name, p, f.Type)
	}
	for name := range s.Properties {
		if !fields[name] {
			t.Errorf("property %q is not a JSON field of %s", name, typ.Name())
		}
	}
	for _, name := range s.Required {
		if s.Properties[name] == nil {
			t.Errorf("required %q is not a property", name)
		}
	}
}

func checkFieldType(t *testing.T, name string, p *oaSchema, typ reflect.Type) {
	t.Helper()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := ""
	switch {
	case typ == reflect.TypeFor[time.Time]():
		if p.Type != "string" || p.Format != "date-time" {
			t.Errorf("%q: got type %q format %q, want a date-time string", name, p.Type, p.Format)
		}
		return
	case typ.Kind() == reflect.Struct:
		if p.Ref != schemaPrefix+typ.Name() {
			t.Errorf("%q: got $ref %q, want %s%s", name, p.Ref, schemaPrefix, typ.Name())
		}
		return
	case typ.Kind() == reflect.Slice:
		if p.Type != "array" || p.Items == nil {
			t.Errorf("%q: got type %q, want an array", name, p.Type)
			return
		}
		checkFieldType(t, name+"[]", p.Items, typ.Elem())
		return
	case typ.Kind() == reflect.String:
		want = "string"
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		want = "integer"
	case typ.Kind() == reflect.Bool:
		want = "boolean"
	default:
		t.Errorf("%q: Go type %s is not one this test knows", name, typ)
		return
	}
	if p.Type != want {
		t.Errorf("%q: got type %q, want %q (Go %s)", name, p.Type, want, typ)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
