package backup

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/benbjohnson/litestream"
)

// ValidateURL checks a replica URL without contacting the replica. It
// accepts file:///absolute/dir and s3://bucket/path[?endpoint=...&region=...]
// and returns an error that names the problem otherwise. S3 credentials are
// read from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS default
// chain), never from the URL, so a URL carrying credentials is rejected.
func ValidateURL(u string) error {
	if strings.TrimSpace(u) == "" {
		return errors.New("backup: no replica URL")
	}
	scheme, _, ok := strings.Cut(u, "://")
	if !ok {
		return fmt.Errorf("backup: replica URL %q has no scheme; want file:///abs/dir or s3://bucket/path", u)
	}
	switch strings.ToLower(scheme) {
	case "file":
		return validateFileURL(u)
	case "s3":
		return validateS3URL(u)
	default:
		return fmt.Errorf("backup: replica URL scheme %q is not supported; want file or s3", scheme)
	}
}

func validateFileURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("backup: replica URL %q: %v", u, err)
	}
	switch {
	case p.Host != "":
		// Litestream would read file://data/backup as /data/backup.
		return fmt.Errorf("backup: file replica URL %q names host %q; write an absolute path after three slashes, file:///abs/dir", u, p.Host)
	case p.Path == "" || !path.IsAbs(p.Path):
		return fmt.Errorf("backup: file replica URL %q needs an absolute path, file:///abs/dir", u)
	case path.Clean(p.Path) == "/":
		return fmt.Errorf("backup: file replica URL %q points at the root directory", u)
	case p.RawQuery != "" || p.Fragment != "":
		return fmt.Errorf("backup: file replica URL %q takes no query or fragment", u)
	}
	return nil
}

func validateS3URL(u string) error {
	shown := redact(u) // the query may carry an SSE-C key
	_, bucket, key, query, userinfo, err := litestream.ParseReplicaURLWithQuery(u)
	if err != nil {
		return fmt.Errorf("backup: replica URL %q: %v", shown, err)
	}
	if userinfo != nil {
		// Litestream ignores URL credentials, and config files get copied
		// around; credentials belong in the environment.
		return errors.New("backup: s3 replica URL must not carry credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if bucket == "" {
		return fmt.Errorf("backup: s3 replica URL %q names no bucket, want s3://bucket/path", shown)
	}
	if key == "" || key == "." {
		// Every region needs a prefix of its own; Litestream would also
		// turn an empty path into ".".
		return fmt.Errorf("backup: s3 replica URL %q needs a path inside the bucket, one per region, e.g. s3://%s/kassa/r1", shown, bucket)
	}
	if ep := query.Get("endpoint"); ep != "" {
		// Litestream adds http:// (local hosts) or https:// to a bare host.
		raw := ep
		if !strings.Contains(ep, "://") {
			raw = "//" + ep
		}
		e, err := url.Parse(raw)
		switch {
		case err != nil:
			return fmt.Errorf("backup: s3 replica URL endpoint %q: %v", ep, err)
		case e.Scheme != "" && e.Scheme != "http" && e.Scheme != "https":
			return fmt.Errorf("backup: s3 replica URL endpoint %q must be http or https", ep)
		case e.Host == "":
			return fmt.Errorf("backup: s3 replica URL endpoint %q names no host", ep)
		case e.User != nil:
			return errors.New("backup: s3 replica URL endpoint must not carry credentials")
		}
	}
	if _, err := litestream.NewReplicaClientFromURL(u); err != nil {
		return fmt.Errorf("backup: replica URL %q: %v", shown, err)
	}
	return nil
}

// redact removes what may be secret from a replica URL for logs and error
// messages: userinfo and any query parameter naming a key (an SSE-C key).
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<unparsable replica URL>"
	}
	q := p.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "key") {
			q.Set(k, "REDACTED")
		}
	}
	p.User, p.RawQuery, p.Fragment = nil, q.Encode(), ""
	return p.String()
}

// checkEnv catches environment that Litestream's S3 client cannot work
// with, so the operator gets the remedy rather than the AWS SDK's message.
func checkEnv(u string) error {
	if !strings.HasPrefix(strings.ToLower(u), "s3://") {
		return nil
	}
	if os.Getenv("AWS_CA_BUNDLE") != "" {
		// Litestream hands the AWS SDK its own *http.Client, to which the
		// SDK cannot add a CA bundle ("has no WithTransportOptions").
		return errors.New("backup: the s3 replica cannot use AWS_CA_BUNDLE; unset it and add the CA to the system pool or SSL_CERT_FILE instead")
	}
	return nil
}
