package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far webhook-timestamp may be from the receiver's clock
// (the specification's five minutes): it bounds replays of a captured message.
const DefaultTolerance = 5 * time.Minute

const (
	secretPrefix   = "whsec_"
	secretBytes    = 32
	minSecretBytes = 24
	maxSecretBytes = 64
	// maxSignatures bounds the work a hostile webhook-signature header can cause.
	maxSignatures = 16
)

// NewSecret returns a fresh signing secret: whsec_ and base64 of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhooks: random secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey decodes a whsec_ secret to its HMAC key.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, ErrInvalidSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value for one message:
// "v1," + base64(HMAC-SHA256(key, id + "." + unix seconds + "." + body)).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// signAll signs with every secret, space-separated, as sent during a rotation.
func signAll(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Verify checks a received webhook: the headers must be present, the timestamp
// within tolerance of now (DefaultTolerance if tolerance <= 0), and one of the
// v1 signatures must match one of the secrets (several while a secret is being
// rotated). body must be the raw request body, byte for byte.
func Verify(secrets []string, headers http.Header, body []byte, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	return verifyAt(secrets, headers, body, tolerance, time.Now())
}

func verifyAt(secrets []string, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id, tsHeader, sigHeader := headers.Get(HeaderID), headers.Get(HeaderTimestamp), headers.Get(HeaderSignature)
	if id == "" || tsHeader == "" || sigHeader == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	if d := now.Unix() - unix; d > int64(tolerance/time.Second) || -d > int64(tolerance/time.Second) {
		return ErrTimestampOutOfRange
	}
	keys := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		k, err := secretKey(s)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	for i, sig := range strings.Fields(sigHeader) {
		if i == maxSignatures {
			break
		}
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if hmac.Equal(got, mac(k, id, unix, body)) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}
