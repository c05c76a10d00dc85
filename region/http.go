package region

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"kassa/httperr"
)

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (sync sets
// its own read deadline for a body).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeKey carries, in a request's context, where the router writes the
// template of the route it matched.
type routeKey struct{}

// instrument gives every request a correlation id, a body limit, a panic
// guard that answers 500 without a stack trace, a log line and metrics.
func (r *Region) instrument(next *mux.Router) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kassa_http_request_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"route"})
	r.registry.MustRegister(requests, latency)
	// The router tells which route it matched through this middleware, so
	// the route is matched once per request, not again for the labels.
	next.Use(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if label, ok := req.Context().Value(routeKey{}).(*string); ok {
				if tpl, err := mux.CurrentRoute(req).GetPathTemplate(); err == nil {
					*label = tpl
				}
			}
			h.ServeHTTP(w, req)
		})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		cid := req.Header.Get("X-Request-Id")
		if cid == "" || len(cid) > 64 || !plainID(cid) {
			cid = httperr.NewCorrelationID()
		}
		w.Header().Set(httperr.CorrelationHeader, cid)
		if !strings.HasPrefix(req.URL.Path, "/sync/") { // sync enforces its own, larger limit
			req.Body = http.MaxBytesReader(w, req.Body, r.cfg.HTTP.MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w}
		route := "unmatched"
		req = req.WithContext(context.WithValue(req.Context(), routeKey{}, &route))
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("handler panic", "route", route, "correlation_id", cid, "panic", p)
				if sw.status == 0 {
					httperr.Write(sw, httperr.Internal)
				}
			}
			requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
			latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			r.log.Debug("request", "method", req.Method, "route", route, "status", sw.status,
				"ms", time.Since(start).Milliseconds(), "correlation_id", cid)
		}()
		next.ServeHTTP(sw, req)
	})
}

// plainID reports whether a caller's request id is safe to echo into
// headers, pages and logs: letters, digits, '-' and '_' only.
func plainID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// operatorRoutes are the routes for operators, not shoppers or merchants:
// http.metrics_token and http.metrics_allow protect them (production
// requires one of the two; with neither, as in development, they are open).
var operatorRoutes = map[string]bool{"/metrics": true, "/sync/v1/status": true}

// operatorsOnly refuses a request for an operator route from a network not
// in http.metrics_allow (403) or without the bearer token
// http.metrics_token (401), whichever of the two is set.
func (r *Region) operatorsOnly(next http.Handler) http.Handler {
	nets, _ := r.cfg.HTTP.metricsNetworks() // checked by Validate
	token := r.cfg.HTTP.MetricsToken
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if token == "" && len(nets) == 0 {
			next.ServeHTTP(w, req)
			return
		}
		if tpl, err := mux.CurrentRoute(req).GetPathTemplate(); err != nil || !operatorRoutes[tpl] {
			next.ServeHTTP(w, req)
			return
		}
		if len(nets) > 0 && !fromNetworks(req.RemoteAddr, nets) {
			httperr.Write(w, httperr.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "not served to this network (http.metrics_allow)"})
			return
		}
		if token != "" {
			got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
			// Hashes of equal length, so the comparison takes the same
			// time whatever was sent.
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kassa"`)
				httperr.Write(w, httperr.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "send the operator token: Authorization: Bearer <http.metrics_token>"})
				return
			}
		}
		next.ServeHTTP(w, req)
	})
}

// fromNetworks reports whether the client at remoteAddr (host:port, as
// the server saw it: a forwarded-for header is not believed) is in nets.
func fromNetworks(remoteAddr string, nets []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
