package webhooks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errForbiddenAddress marks a destination the policy refuses.
var errForbiddenAddress = errors.New("forbidden destination")

const (
	maxURLLen      = 2048
	resolveTimeout = 3 * time.Second
)

// urlPolicy decides where webhooks may go: at save time on the URL and what its
// host resolves to, and at connect time on the address actually dialled.
type urlPolicy struct {
	allowLoopback bool
	allowedHosts  map[string]bool
}

func newURLPolicy(cfg Config) urlPolicy {
	p := urlPolicy{allowLoopback: cfg.AllowLoopback, allowedHosts: map[string]bool{}}
	for _, h := range cfg.AllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			p.allowedHosts[h] = true
		}
	}
	return p
}

// specialRanges are non-public ranges netip has no predicate for.
var specialRanges = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	// Transition forms that carry an IPv4 address inside an IPv6 one reach
	// whatever IPv4 address they embed (through a relay, a NAT64 gateway or the
	// host's own stack). They are refused whole rather than by the IPv4 they
	// embed: Teredo obfuscates it, relays are not ours to trust, and no
	// receiver needs such an address. (IPv4-mapped ::ffff:0:0/96 is unmapped
	// and judged as the IPv4 it is.)
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
}

// addressKind names why ip is not a public unicast address ("" if it is).
func addressKind(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(ip) {
			return r.kind
		}
	}
	return ""
}

// checkAddr refuses non-public addresses unless the configuration allows them.
// A trusted host (AllowedHosts) may use any unicast address.
func (p urlPolicy) checkAddr(trusted bool, ip netip.Addr) error {
	kind := addressKind(ip)
	switch {
	case kind == "":
		return nil
	case kind == "loopback" && p.allowLoopback:
		return nil
	case trusted && kind != "unspecified" && kind != "multicast" && kind != "invalid":
		return nil
	}
	return fmt.Errorf("%w: %s is a %s address", errForbiddenAddress, ip.Unmap(), kind)
}

// checkURL validates an endpoint URL when it is saved, resolving its host.
func (p urlPolicy) checkURL(ctx context.Context, raw string) error {
	if len(raw) > maxURLLen {
		return fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return errors.New("must be an absolute https URL")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	switch {
	case scheme != "https" && scheme != "http":
		return errors.New("must be an https URL")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.Fragment != "" || u.RawFragment != "":
		return errors.New("must not have a fragment")
	case host == "":
		return errors.New("must name a host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not valid", port)
		}
	}
	trusted := p.allowedHosts[host]
	addrs, err := resolve(ctx, host)
	if err != nil {
		return err
	}
	allLoopback := true
	for _, a := range addrs {
		if err := p.checkAddr(trusted, a); err != nil {
			return fmt.Errorf("host %s resolves to a refused address: %w", host, err)
		}
		allLoopback = allLoopback && a.Unmap().IsLoopback()
	}
	if scheme == "http" && !trusted && !(p.allowLoopback && allLoopback) {
		return errors.New("must be an https URL (http only to an allowed host)")
	}
	return nil
}

func resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("host %s does not resolve", host)
	}
	return addrs, nil
}

// dialContext dials like net.Dialer but refuses, in Control, any address the
// policy forbids: the check sees the IP actually connected to, after DNS.
func (p urlPolicy) dialContext(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("webhooks: dial %s: %w", addr, err)
		}
		trusted := p.allowedHosts[strings.ToLower(host)]
		d := net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("%w: cannot parse %q", errForbiddenAddress, address)
				}
				return p.checkAddr(trusted, ap.Addr())
			},
		}
		return d.DialContext(ctx, network, addr)
	}
}

// httpClient posts webhooks: no proxy (it would dial for us and bypass the
// address check), no redirects, bounded headers, and connection reuse for
// busy receivers.
func (p urlPolicy) httpClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            p.dialContext(timeout),
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    128,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
