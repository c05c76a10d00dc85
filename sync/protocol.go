package sync

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Headers of an authenticated sync request.
const (
	HeaderRegion    = "Kassa-Region"
	HeaderTimestamp = "Kassa-Timestamp"
	HeaderSignature = "Kassa-Signature"
	HeaderNonce     = "Kassa-Nonce"
)

// PushRequest is the body of POST /sync/v1/entries: entries in their wire
// form (canonical bytes and signature, base64 in JSON), of any origin.
type PushRequest struct {
	From    string            `json:"from"`
	Vector  map[string]uint64 `json:"vector"`
	Entries [][]byte          `json:"entries"`
}

// PushResponse answers a push with what the receiver did and its version
// vector after it, from which the sender moves its cursor.
type PushResponse struct {
	Region     string            `json:"region"`
	Vector     map[string]uint64 `json:"vector"`
	Applied    int               `json:"applied"`
	Duplicates int               `json:"duplicates"`
	Rejected   []Rejection       `json:"rejected"`
}

// Rejection says why the receiver refused one entry.
type Rejection struct {
	Origin  string `json:"origin"`
	Seq     uint64 `json:"seq"`
	ID      string `json:"id"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// PullResponse is the body of GET /sync/v1/entries?origin=&after=&limit=.
type PullResponse struct {
	Region  string            `json:"region"`
	Vector  map[string]uint64 `json:"vector"`
	Entries [][]byte          `json:"entries"`
}

// Errors a receiver answers a bad request with. Each is a 4xx: the request
// changed nothing.
var (
	ErrUnauthenticated = errors.New("sync: request not authenticated")
	ErrReplayed        = errors.New("sync: request replayed")
	ErrStale           = errors.New("sync: request timestamp outside the replay window")
	ErrUnknownPeer     = errors.New("sync: unknown peer")
)

// signingString is what a request signature covers: the protocol version,
// method, path with query, timestamp, a nonce and the body's SHA-256. The
// nonce makes two identical requests in one millisecond two different
// signatures (ed25519 is deterministic), so neither is taken for a replay.
func signingString(method, uri string, ts int64, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte("kassa-sync-v1\n" + method + "\n" + uri + "\n" + strconv.FormatInt(ts, 10) + "\n" + nonce + "\n" + hex.EncodeToString(sum[:]))
}

// signRequest sets the authentication headers on req for body.
func signRequest(req *http.Request, from string, key ed25519.PrivateKey, now time.Time, body []byte) {
	ts := now.UnixMilli()
	var b [12]byte
	rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	sig := ed25519.Sign(key, signingString(req.Method, req.URL.RequestURI(), ts, nonce, body))
	req.Header.Set(HeaderRegion, from)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

// authenticator checks request signatures against the peers' keys and
// refuses a signature it has already seen within the replay window.
type authenticator struct {
	keys   map[string]ed25519.PublicKey
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	seen      map[string]time.Time // signature -> when it may be forgotten
	lastPrune time.Time
}

// check returns the authenticated peer id, or an error wrapping one of the
// errors above that says what is wrong.
func (a *authenticator) check(r *http.Request, body []byte) (string, error) {
	from := r.Header.Get(HeaderRegion)
	pub, ok := a.keys[from]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownPeer, from)
	}
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: missing or bad %s", ErrUnauthenticated, HeaderTimestamp)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: missing or bad %s", ErrUnauthenticated, HeaderSignature)
	}
	nonce := r.Header.Get(HeaderNonce)
	if len(nonce) < 16 || len(nonce) > 64 {
		return "", fmt.Errorf("%w: missing or bad %s", ErrUnauthenticated, HeaderNonce)
	}
	now := a.now()
	at := time.UnixMilli(ts)
	if at.Before(now.Add(-a.window)) || at.After(now.Add(a.window)) {
		return "", fmt.Errorf("%w: %s is %s from this region's clock (window %s)", ErrStale, HeaderTimestamp, at.Sub(now).Round(time.Millisecond), a.window)
	}
	if !ed25519.Verify(pub, signingString(r.Method, r.URL.RequestURI(), ts, nonce, body), sig) {
		return "", fmt.Errorf("%w: signature does not verify with %s's key", ErrUnauthenticated, from)
	}
	key := string(sig)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.seen[key]; dup {
		return "", ErrReplayed
	}
	if now.Sub(a.lastPrune) > time.Second {
		for k, exp := range a.seen {
			if now.After(exp) {
				delete(a.seen, k)
			}
		}
		a.lastPrune = now
	}
	a.seen[key] = at.Add(2 * a.window)
	return from, nil
}
