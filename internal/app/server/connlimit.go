package server

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// LimitConns wraps ln so that each peer address holds at most max
// connections at once: one more is answered 429 and closed at accept. Peers
// in exempt (trusted proxies: addresses or CIDRs), whose connections carry
// many clients, are not capped. max <= 0 returns ln unchanged.
//
// fasthttp's own Server.MaxConnsPerIP cannot exempt proxies, hence this
// wrapper; it counts like fasthttp does (by IP, released on Close).
func LimitConns(ln net.Listener, max int, exempt []string) (net.Listener, error) {
	if max <= 0 {
		return ln, nil
	}
	prefixes, err := ParseProxies(exempt)
	if err != nil {
		return nil, err
	}
	return &connLimiter{Listener: ln, max: max, exempt: prefixes, open: map[netip.Addr]int{}}, nil
}

// ParseProxies reads trusted proxies: addresses or CIDRs.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

type connLimiter struct {
	net.Listener
	max    int
	exempt []netip.Prefix
	mu     sync.Mutex
	open   map[netip.Addr]int
}

const tooManyConns = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/problem+json\r\n" +
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: 134\r\n\r\n" +
	`{"type":"https://civicpay.dev/problems/too-many-connections","title":"Too many connections","status":429,"detail":"from your address"}`

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := peerIP(c)
		if !ok || l.isExempt(ip) {
			return c, nil
		}
		l.mu.Lock()
		n := l.open[ip]
		if n < l.max {
			l.open[ip] = n + 1
		}
		l.mu.Unlock()
		if n < l.max {
			return &countedConn{Conn: c, l: l, ip: ip}, nil
		}
		go refuse(c) // never block the accept loop on a client
	}
}

func refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(tooManyConns))
	_ = c.Close()
}

func (l *connLimiter) isExempt(ip netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (l *connLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	if l.open[ip] <= 1 {
		delete(l.open, ip)
	} else {
		l.open[ip]--
	}
	l.mu.Unlock()
}

func peerIP(c net.Conn) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// countedConn gives its slot back once, on the first Close.
type countedConn struct {
	net.Conn
	l    *connLimiter
	ip   netip.Addr
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
