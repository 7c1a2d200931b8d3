package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The TOTP parameters: RFC 6238's defaults, which every authenticator app
// reads from the otpauth URI.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpIssuer = "civicpay"
	// totpSkew accepts the code of the step before and after the current one
	// (a phone's clock off by up to 30 s).
	totpSkew = 1
)

// NewTOTP makes a TOTP secret for email: the base32 secret and the otpauth
// URI an authenticator app reads (as text or a QR code).
func NewTOTP(email string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: email, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return "", "", fmt.Errorf("console: totp secret: %w", err)
	}
	return k.Secret(), k.URL(), nil
}

// TOTPURI is the otpauth URI of an existing secret.
func TOTPURI(email, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", totpIssuer)
	v.Set("period", fmt.Sprint(totpPeriod))
	v.Set("digits", "6")
	v.Set("algorithm", "SHA1")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + email, RawQuery: v.Encode()}
	return u.String()
}

// TOTPCode is the code of secret at t (for the demo's printout and tests).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
}

// checkTOTP finds the time step whose code is code, within totpSkew steps of
// now, and later than lastStep (a code once accepted is never accepted
// again). It returns that step, or 0.
func checkTOTP(secret, code string, now time.Time, lastStep int64) int64 {
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := TOTPCode(secret, time.Unix(step*totpPeriod, 0))
		if err != nil {
			return 0
		}
		// Every step is compared, in constant time, whichever matches.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && found == 0 {
			found = step
		}
	}
	return found
}

// recoveryCodes is how many recovery codes a user receives.
const recoveryCodes = 10

// newRecoveryCode is 16 base32 characters (80 random bits) in groups of four.
func newRecoveryCode() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: recovery code: %w", err)
	}
	s := base32.StdEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// recoveryHash is the stored form of a recovery code, read in any case and
// with or without its dashes and spaces.
func recoveryHash(code string) []byte {
	norm := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte("civicpay staff recovery code\x00" + norm))
	return sum[:]
}

// looksLikeRecoveryCode tells a recovery code from a TOTP code on the
// sign-in form's one field.
func looksLikeRecoveryCode(s string) bool {
	return len(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s))) == 16
}
