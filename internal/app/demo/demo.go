// Package demo holds the one list of values this repository publishes for
// its demo merchant: what internal/sim/gatewaysim plays and what development mode
// (CIVICPAY_ENV=development) configures civicpay with. Being public, none of
// the credentials may key a gateway in production (internal/app/config refuses
// them).
package demo

import "slices"

// SimURL is where `make run` starts gatewaysim.
const SimURL = "http://127.0.0.1:8090"

// The demo merchant's identifiers and credentials.
const (
	VNPAYTmnCode    = "CIVICPAY"
	VNPAYHashSecret = "DEMOVNPAYHASHSECRETDEMOVNPAYHASH"
	MoMoPartnerCode = "MOMOCIVICPAY2026"
	MoMoAccessKey   = "DEMOMOMOACCESSK"
	MoMoSecretKey   = "DEMOMOMOSECRETKEYDEMOMOMOSECRETK"
	ZaloPayAppID    = 2554
	ZaloPayKey1     = "DEMOZALOPAYKEY1DEMOZALOPAYKEY1AA"
	ZaloPayKey2     = "DEMOZALOPAYKEY2DEMOZALOPAYKEY2BB"
	BankBIN         = "970436" // Vietcombank
	BankAccount     = "0011004123456"
)

// secrets are the published credentials.
var secrets = []string{VNPAYHashSecret, MoMoAccessKey, MoMoSecretKey, ZaloPayKey1, ZaloPayKey2}

// IsPublished reports whether s is one of the demo credentials published in
// this repository (for any gateway: a demo key moved to another gateway's
// setting is as public).
func IsPublished(s string) bool { return slices.Contains(secrets, s) }
