// Package client is kassa's merchant client: it sends the merchant API's
// (/v1) requests to a list of regions and fails over between them, so that
// a merchant's checkout keeps working while a region is down, cut off,
// frozen or shedding load.
//
// # Design
//
// Every HTTP request goes out through go-retryablehttp, one attempt at a
// time (its own retries are off): the failover loop around it is this
// package's, because the decision after a failed attempt is not "wait and
// ask the same server again" but "ask the next region now, and come back to
// this one when it said it would be ready". Each attempt has its own
// timeout (Config.Attempt); the loop as a whole has one (Config.Deadline).
//
// # Invariants
//
//   - One Idempotency-Key per logical operation. Do sends the caller's key
//     on every attempt at every region, never a new one: kassa derives its
//     ids from the key, so a retry in another region of a request that was
//     already done in the first one finds or replays the same session,
//     order or movement instead of doing it twice.
//   - A POST (any method but GET and HEAD) without a key is refused by the
//     client before anything is sent (ErrNoKey): retrying a write without a
//     key could do it twice. GETs need none.
//   - Failover happens on a connection error (refused, reset, DNS), an
//     attempt that timed out, and the answers 429, 502, 503 and 504. The
//     first two mean the region did not answer; 429 and 503 mean it
//     answered "not now" (kassa's 503s are rights_unavailable,
//     not_replicated, not_ready and acquirer_unavailable, all of which say
//     to retry with the same key), and their Retry-After is honoured: that
//     region is not asked again before the time it gave, while the other
//     regions are. 502 and 504 come from a proxy or load balancer in front
//     of a region that could not reach it, so they say nothing about the
//     operation and are treated like a connection error.
//   - Every other status is a final answer and is returned as it is: 2xx,
//     the 4xx refusals (a 402 decline, a 409 conflict, a 404), and 500. A
//     500 is final because kassa answers every failure it knows to be
//     transient with a 503 and Retry-After; a 500 is a region that took the
//     request and failed in a way nobody classified, with an outcome that
//     may be unknown. Replaying it in every region would hide the fault and
//     multiply its cost; the merchant sees it, and may retry later with the
//     same key, which is safe.
//   - The region that gave the last final answer is asked first by the
//     next operation (a Client remembers it; the first of Config.Regions
//     until then); the others follow in their configured order, cyclically.
//   - A region that did not answer an attempt (a connection error, or an
//     attempt that timed out: a frozen or black-holed region) is asked
//     only when no other region may be asked, for SuspectFor (5 s) or
//     until it answers. Clients given the same Health (Config.Health)
//     share this: once one of a merchant's clients has waited out a frozen
//     region's attempt timeout, the others do not start with it.
//   - With Config.Probe set, an attempt unanswered for Probe is followed by
//     a GET /healthz to the same region (without the secret); if that too
//     goes unanswered for Probe, the region is suspect at once, so the
//     operations that start after it (sharing the Health) go elsewhere
//     within about 2×Probe of meeting a frozen region, not after a whole
//     Attempt. The attempt that met it is given up then only if it is a
//     read (GET or HEAD); a write waits out its Attempt as without a probe,
//     because the region may still decide it when it resumes, and the
//     same authorization decided in another region meanwhile could stand
//     twice (docs/checkout.md, "Conflicts from partitions"). A region that
//     answers the probe is slow, not gone: nothing changes. When SuspectFor
//     has passed without an answer from a suspect region, the next
//     operation that would start there asks its /healthz first: unanswered
//     within Probe, the region is suspect again and the operation goes on
//     to the next region without having sent it anything; answered, the
//     region is no longer suspect and gets the operation. So a region
//     frozen for long costs the operations after the first about Probe
//     every SuspectFor, not a write's whole Attempt. Without a probe (the
//     default) nothing is sent but the operation's own requests.
//   - No operation takes longer than Config.Deadline (or the context's
//     deadline, if sooner). When no region can be asked again before the
//     deadline (every one is down or asked to be left alone beyond it), Do
//     gives up at once instead of waiting for nothing. Either way the error
//     wraps ErrDeadline and the last non-final response, if there was one,
//     is returned with it.
//   - A Client is safe for concurrent use; its only shared state is the
//     preferred region, its Health and the connection pool.
//
// The client never logs; the API secret only ever travels in the
// Authorization header.
package client
