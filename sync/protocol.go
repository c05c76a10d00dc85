package sync

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"kassa/ledger"
)

// Headers of an authenticated sync request.
const (
	HeaderRegion    = "Kassa-Region"
	HeaderTimestamp = "Kassa-Timestamp"
	HeaderSignature = "Kassa-Signature"
	HeaderNonce     = "Kassa-Nonce"
)

// PushRequest is the body of POST /sync/v1/entries: the sender, its version
// vector and entries of any origin in their wire form (canonical bytes and
// signature). It travels in the binary form MarshalBinary writes
// (PushContentType), so that a receiver decodes each entry once, from the
// bytes it then verifies and stores.
type PushRequest struct {
	From   string
	Vector map[string]uint64
	// Seq numbers the sender's pushes to this receiver. After is the Seq of
	// the push whose batch this one continues while that push may still be
	// in flight, or 0: the receiver then hands this batch to its ledger only
	// after that one (see docs/sync.md, "Pipelined pushes").
	Seq, After uint64
	Entries    [][]byte
}

// PushContentType is the media type of a push body.
const PushContentType = "application/vnd.kassa.push"

// pushMagic starts every push body; a new layout gets a new one.
const pushMagic = "kassa-push-v1\n"

// Limits of a push body's parts, beyond which it is malformed.
const (
	maxPushVector  = 1024
	maxPushEntries = 1 << 16
)

// MarshalBinary writes the push in its binary form: pushMagic, then
// uvarint-length-prefixed strings and uvarint numbers: from; the vector's
// size and its (origin, seq) pairs in origin order; seq and after; the number
// of entries and each entry's wire form.
func (p *PushRequest) MarshalBinary() ([]byte, error) {
	n := len(pushMagic) + 4*binary.MaxVarintLen64 + len(p.From)
	for o := range p.Vector {
		n += len(o) + 2*binary.MaxVarintLen64
	}
	for _, e := range p.Entries {
		n += len(e) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = append(b, pushMagic...)
	b = appendBytes(b, []byte(p.From))
	origins := make([]string, 0, len(p.Vector))
	for o := range p.Vector {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = appendBytes(b, []byte(o))
		b = binary.AppendUvarint(b, p.Vector[o])
	}
	b = binary.AppendUvarint(b, p.Seq)
	b = binary.AppendUvarint(b, p.After)
	b = binary.AppendUvarint(b, uint64(len(p.Entries)))
	for _, e := range p.Entries {
		b = appendBytes(b, e)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary writes. Entries alias b. It
// accepts exactly that layout: vector origins in increasing order, nothing
// after the last entry, and no part over its limit. Entries are not decoded
// here; that is the ledger's job.
func (p *PushRequest) UnmarshalBinary(b []byte) error {
	if !bytes.HasPrefix(b, []byte(pushMagic)) {
		return fmt.Errorf("not a push body (want %s, starting %q)", PushContentType, strings.TrimSpace(pushMagic))
	}
	d := pushDecoder{b: b[len(pushMagic):]}
	var out PushRequest
	out.From = string(d.bytes(ledger.MaxOriginLen, "from"))
	nv := d.count(maxPushVector, "vector")
	if nv > 0 {
		out.Vector = make(map[string]uint64, nv)
	}
	prev := ""
	for i := 0; i < nv && d.err == nil; i++ {
		o := string(d.bytes(ledger.MaxOriginLen, "vector origin"))
		seq := d.uvarint("vector seq")
		if d.err == nil && i > 0 && o <= prev {
			d.err = fmt.Errorf("vector origins out of order at %q", o)
		}
		out.Vector[o], prev = seq, o
	}
	out.Seq = d.uvarint("seq")
	out.After = d.uvarint("after")
	ne := d.count(maxPushEntries, "entries")
	if ne > 0 {
		out.Entries = make([][]byte, 0, min(ne, len(d.b)/ed25519.SignatureSize+1))
	}
	for i := 0; i < ne && d.err == nil; i++ {
		if e := d.bytes(ledger.MaxEncodedSize, fmt.Sprintf("entry %d", i)); d.err == nil {
			out.Entries = append(out.Entries, e[:len(e):len(e)])
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes after the last entry", len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	*p = out
	return nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// pushDecoder reads a push body's parts; the first problem sticks in err.
type pushDecoder struct {
	b   []byte
	err error
}

func (d *pushDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%s: bad or missing number", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *pushDecoder) count(max int, what string) int {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(max) {
		d.err = fmt.Errorf("%s: %d exceeds %d", what, v, max)
		return 0
	}
	return int(v)
}

func (d *pushDecoder) bytes(max int, what string) []byte {
	n := d.count(max, what+" length")
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = fmt.Errorf("%s: %d bytes, %d left", what, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// PushResponse answers a push with what the receiver did and its version
// vector after it, from which the sender moves its cursor.
type PushResponse struct {
	Region string `json:"region"`
	// Incarnation names the receiving process: a region restarted (perhaps
	// from an older backup) answers with a new one.
	Incarnation string            `json:"incarnation"`
	Vector      map[string]uint64 `json:"vector"`
	Applied     int               `json:"applied"`
	Duplicates  int               `json:"duplicates"`
	Rejected    []Rejection       `json:"rejected"`
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
func signingString(method, uri string, ts int64, nonce string, sum [sha256.Size]byte) []byte {
	return []byte("kassa-sync-v1\n" + method + "\n" + uri + "\n" + strconv.FormatInt(ts, 10) + "\n" + nonce + "\n" + hex.EncodeToString(sum[:]))
}

// signRequest sets the authentication headers on req for body.
func signRequest(req *http.Request, from string, key ed25519.PrivateKey, now time.Time, body []byte) {
	ts := now.UnixMilli()
	var b [12]byte
	rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	sig := ed25519.Sign(key, signingString(req.Method, req.URL.RequestURI(), ts, nonce, sha256.Sum256(body)))
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

// claim is what a request's headers say: the sender, when and how it
// signed. check finds it well formed, fresh and from a known peer before the
// body is read; verify then checks the signature against the body's hash.
type claim struct {
	from  string
	pub   ed25519.PublicKey
	ts    int64
	nonce string
	sig   []byte
}

// check returns the request's claim, or an error wrapping one of the errors
// above that says what is wrong. It needs only the headers.
func (a *authenticator) check(r *http.Request) (claim, error) {
	c := claim{from: r.Header.Get(HeaderRegion)}
	var ok bool
	if c.pub, ok = a.keys[c.from]; !ok {
		return claim{}, fmt.Errorf("%w %q", ErrUnknownPeer, c.from)
	}
	var err error
	c.ts, err = strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return claim{}, fmt.Errorf("%w: missing or bad %s", ErrUnauthenticated, HeaderTimestamp)
	}
	c.sig, err = base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil || len(c.sig) != ed25519.SignatureSize {
		return claim{}, fmt.Errorf("%w: missing or bad %s", ErrUnauthenticated, HeaderSignature)
	}
	c.nonce = r.Header.Get(HeaderNonce)
	if len(c.nonce) < 16 || len(c.nonce) > 64 {
		return claim{}, fmt.Errorf("%w: missing or bad %s", ErrUnauthenticated, HeaderNonce)
	}
	now := a.now()
	at := time.UnixMilli(c.ts)
	if at.Before(now.Add(-a.window)) || at.After(now.Add(a.window)) {
		return claim{}, fmt.Errorf("%w: %s is %s from this region's clock (window %s)", ErrStale, HeaderTimestamp, at.Sub(now).Round(time.Millisecond), a.window)
	}
	a.mu.Lock()
	_, dup := a.seen[string(c.sig)]
	a.mu.Unlock()
	if dup {
		return claim{}, ErrReplayed
	}
	return c, nil
}

// verify checks c's signature over r's method and URI and the hash of the
// body it came with, and remembers it for the replay window. The error wraps
// ErrUnauthenticated or ErrReplayed.
func (a *authenticator) verify(r *http.Request, c claim, sum [sha256.Size]byte) error {
	if !ed25519.Verify(c.pub, signingString(r.Method, r.URL.RequestURI(), c.ts, c.nonce, sum), c.sig) {
		return fmt.Errorf("%w: signature does not verify with %s's key", ErrUnauthenticated, c.from)
	}
	key := string(c.sig)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.seen[key]; dup {
		return ErrReplayed
	}
	if now.Sub(a.lastPrune) > time.Second {
		for k, exp := range a.seen {
			if now.After(exp) {
				delete(a.seen, k)
			}
		}
		a.lastPrune = now
	}
	a.seen[key] = time.UnixMilli(c.ts).Add(2 * a.window)
	return nil
}
