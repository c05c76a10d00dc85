package sync_test

import (
	"crypto/ed25519"
	"fmt"

	"kassa/ledger"
	regionsync "kassa/sync"
)

// A push travels in its binary form (PushContentType): the sender marshals
// its version vector and the entries the peer lacks, each in its signed
// wire form; the receiver unmarshals the body and decodes and verifies each
// entry once, from the very bytes it then stores.
func ExamplePushRequest() {
	// The sender's ledger signs its entries; here one is built by hand.
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	e := ledger.Entry{
		Origin: "eu-north", Seq: 1, // the region's first entry: no prev
		HLC:  ledger.HLC{Wall: 1_700_000_000_000},
		Kind: "session.created", Subject: "ses_example",
	}
	e.Sign(key)
	w, err := e.MarshalBinary()
	if err != nil {
		panic(err)
	}
	out := regionsync.PushRequest{
		From:   "eu-north",
		Vector: map[string]uint64{"eu-north": 1, "us-east": 7},
		Seq:    3, After: 2, // continues push 2, which may still be in flight
		Entries: [][]byte{w},
	}
	body, err := out.MarshalBinary()
	if err != nil {
		panic(err)
	}

	// The receiver.
	var in regionsync.PushRequest
	if err := in.UnmarshalBinary(body); err != nil {
		panic(err)
	}
	fmt.Println("from", in.From, "vector", in.Vector, "seq", in.Seq, "after", in.After)
	for _, b := range in.Entries {
		got, err := ledger.DecodeEntry(b)
		if err != nil {
			panic(err)
		}
		// The receiver knows the origin's public key from its peer list.
		if err := got.VerifySignature(key.Public().(ed25519.PublicKey)); err != nil {
			panic(err)
		}
		fmt.Printf("%s/%d %s %s: signature verified\n", got.Origin, got.Seq, got.Kind, got.Subject)
	}

	// The layout is strict: a body with anything after its last entry is
	// refused before any entry is looked at.
	fmt.Println(in.UnmarshalBinary(append(body, 0)))
	// Output:
	// from eu-north vector map[eu-north:1 us-east:7] seq 3 after 2
	// eu-north/1 session.created ses_example: signature verified
	// 1 bytes after the last entry
}
