package webhooks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks specification's published test vector.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignSpecVector(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	got, err := Sign(specSecret, specID, ts, []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Fatalf("Sign = %q, want %q", got, specSignature)
	}
	h := headers(specID, ts, specSignature)
	if err := verifyAt([]string{specSecret}, h, []byte(specBody), DefaultTolerance, ts); err != nil {
		t.Fatalf("verify the vector: %v", err)
	}
	// The specification's own library agrees.
	wh, err := standardwebhooks.NewWebhook(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	if lib, _ := wh.Sign(specID, ts, []byte(specBody)); lib != got {
		t.Fatalf("library signs %q, we sign %q", lib, got)
	}
}

func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"msg_1","type":"order.paid"}`)
	sig := func(secret string, ts time.Time) string {
		s, err := Sign(secret, specID, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		secrets []string
		h       http.Header
		body    []byte
		want    error
	}{
		{"valid", []string{specSecret}, headers(specID, now, sig(specSecret, now)), body, nil},
		{"receiver holds the old secret during rotation", []string{specSecret},
			headers(specID, now, sig(other, now)+" "+sig(specSecret, now)), body, nil},
		{"receiver holds both secrets", []string{other, specSecret}, headers(specID, now, sig(specSecret, now)), body, nil},
		{"unknown versions are skipped", []string{specSecret},
			headers(specID, now, "v2,abc v1a,xyz "+sig(specSecret, now)), body, nil},
		{"wrong secret", []string{other}, headers(specID, now, sig(specSecret, now)), body, ErrNoMatchingSignature},
		{"tampered body", []string{specSecret}, headers(specID, now, sig(specSecret, now)), []byte(`{"id":"msg_2"}`), ErrNoMatchingSignature},
		{"tampered id", []string{specSecret}, headers("msg_other", now, sig(specSecret, now)), body, ErrNoMatchingSignature},
		{"signature of another time", []string{specSecret},
			headers(specID, now, sig(specSecret, now.Add(-time.Second))), body, ErrNoMatchingSignature},
		{"too old", []string{specSecret}, headers(specID, now.Add(-6*time.Minute), sig(specSecret, now.Add(-6*time.Minute))), body, ErrTimestampOutOfRange},
		{"too new", []string{specSecret}, headers(specID, now.Add(6*time.Minute), sig(specSecret, now.Add(6*time.Minute))), body, ErrTimestampOutOfRange},
		{"missing signature", []string{specSecret}, headers(specID, now, ""), body, ErrMissingHeaders},
		{"timestamp not a number", []string{specSecret}, func() http.Header {
			h := headers(specID, now, sig(specSecret, now))
			h.Set(HeaderTimestamp, "2023-11-14T22:13:20Z")
			return h
		}(), body, ErrInvalidTimestamp},
		{"malformed base64", []string{specSecret}, headers(specID, now, "v1,!!!"), body, ErrNoMatchingSignature},
		{"secret without prefix", []string{strings.TrimPrefix(specSecret, "whsec_")}, headers(specID, now, sig(specSecret, now)), body, ErrInvalidSecret},
		{"secret too short", []string{"whsec_AAAA"}, headers(specID, now, sig(specSecret, now)), body, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := verifyAt(tt.secrets, tt.h, tt.body, DefaultTolerance, now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewSecretIsAcceptedBySpecLibrary(t *testing.T) {
	t.Parallel()
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := secretKey(s)
	if err != nil || len(key) != secretBytes {
		t.Fatalf("secret %q decodes to %d bytes (%v)", s[:10], len(key), err)
	}
	ts := time.Now()
	sig, err := Sign(s, "msg_x", ts, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify([]byte("{}"), headers("msg_x", ts, sig)); err != nil {
		t.Fatalf("library rejects our signature: %v", err)
	}
}

// FuzzVerify: hostile headers never panic, and what Sign produces verifies.
func FuzzVerify(f *testing.F) {
	f.Add(specID, strconv.Itoa(specTimestamp), specSignature, specBody)
	f.Add("", "", "", "")
	f.Add("msg_x", "-1", "v1,", "{}")
	f.Add("msg_x", "99999999999999999999", "v1,a v1,b v2,c ,,, v1", "body")
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		now := time.Unix(specTimestamp, 0)
		_ = verifyAt([]string{specSecret}, h, []byte(body), DefaultTolerance, now)
		if id == "" || strings.ContainsAny(id, "\r\n\x00") {
			return
		}
		good, err := Sign(specSecret, id, now, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderSignature, good)
		if h.Get(HeaderID) != id {
			return // header normalisation changed the id
		}
		if err := verifyAt([]string{specSecret}, h, []byte(body), DefaultTolerance, now); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
	})
}
