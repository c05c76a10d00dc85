package httperr

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
)

// CorrelationHeader is the response header that carries a request's
// correlation id.
const CorrelationHeader = "Kassa-Correlation-Id"

// Error is an HTTP error as a client sees it: a status, a stable code, a
// public message and, where one input is at fault, its name.
type Error struct {
	Status  int    // HTTP status
	Code    string // stable, snake_case: what clients switch on
	Message string // public; never internal detail
	Field   string // the request field or header at fault, or ""
	// RetryAfter is how many seconds the client should wait before it
	// retries; 0 sends no Retry-After.
	RetryAfter int
}

// Internal is the answer to an error the client cannot act on: the detail
// goes to the log under the correlation id the answer quotes.
var Internal = Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; quote the correlation id to support"}

// Error returns the code and the message.
func (e Error) Error() string { return e.Code + ": " + e.Message }

// envelope is the body of every error: the field order is the documented
// one.
type envelope struct {
	Error body `json:"error"`
}

type body struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	Field         string `json:"field"`
	CorrelationID string `json:"correlation_id"`
}

// Write writes e as the error envelope with the headers every JSON error
// carries. Call it before anything else is written to w.
func Write(w http.ResponseWriter, e Error) {
	var b bytes.Buffer
	// Encoding plain strings cannot fail.
	json.NewEncoder(&b).Encode(envelope{body{Code: e.Code, Message: e.Message, Field: e.Field, CorrelationID: CorrelationID(w)}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	w.Write(b.Bytes())
}

// CorrelationID returns the id the region's middleware gave this request
// (the Kassa-Correlation-Id response header), making one if it has none,
// so an answer can quote what the region's log says about it. Call it
// before the header is written.
func CorrelationID(w http.ResponseWriter) string {
	if id := w.Header().Get(CorrelationHeader); id != "" {
		return id
	}
	id := NewCorrelationID()
	w.Header().Set(CorrelationHeader, id)
	return id
}

// NewCorrelationID returns a fresh random correlation id: 16 hex digits.
func NewCorrelationID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
