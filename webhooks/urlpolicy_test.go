package webhooks

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAddressKind(t *testing.T) {
	t.Parallel()
	tests := []struct{ ip, want string }{
		{"93.184.216.34", ""},
		{"2606:2800:220:1:248:1893:25c8:1946", ""},
		{"127.0.0.1", "loopback"},
		{"127.9.9.9", "loopback"},
		{"::1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"192.168.1.1", "private"},
		{"fd00::1", "private"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "link-local"},
		{"239.1.1.1", "multicast"},
		{"ff02::1", "link-local"},
		{"ff05::1", "multicast"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:127.0.0.1", "loopback"},
		{"100.64.0.1", "shared (CGNAT)"},
		{"255.255.255.255", "reserved"},
		{"64:ff9b::a00:1", "NAT64"},
		// Transition forms embedding IPv4, refused whatever they embed.
		{"64:ff9b::5db8:d822", "NAT64"},
		{"64:ff9b:1::7f00:1", "NAT64"},
		{"192.88.99.1", "6to4 relay"},
		{"2002:a00:1::1", "6to4"},     // 10.0.0.1
		{"2002:5db8:d822::1", "6to4"}, // 93.184.216.34
		{"2002:7f00:1::1", "6to4"},    // 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"2001::1", "Teredo"},
		{"::a00:1", "IPv4-compatible"},            // ::10.0.0.1
		{"::7f00:1", "IPv4-compatible"},           // ::127.0.0.1
		{"::5db8:d822", "IPv4-compatible"},        // ::93.184.216.34
		{"::ffff:0:a9fe:a9fe", "IPv4-translated"}, // ::ffff:0:169.254.169.254
		{"::ffff:93.184.216.34", ""},              // IPv4-mapped: judged as the IPv4
		{"2001:4860:4860::8888", ""},              // outside 2001::/32
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel()
			if got := addressKind(netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Fatalf("addressKind(%s) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := newURLPolicy(Config{})
	loopback := newURLPolicy(Config{AllowLoopback: true})
	trusted := newURLPolicy(Config{AllowedHosts: []string{"LOCALHOST", "10.0.0.7"}})
	tests := []struct {
		name    string
		policy  urlPolicy
		url     string
		wantErr string // substring; "" means accepted
	}{
		{"public https", strict, "https://93.184.216.34/hooks?agency=A", ""},
		{"public http", strict, "http://93.184.216.34/hooks", "https"},
		{"private", strict, "https://10.0.0.1/hooks", "private"},
		{"metadata service", strict, "https://169.254.169.254/latest", "link-local"},
		{"loopback refused by default", strict, "https://127.0.0.1:8443/", "loopback"},
		{"ipv6 loopback refused", strict, "https://[::1]/", "loopback"},
		{"localhost refused", strict, "https://localhost/", "loopback"},
		{"mapped private", strict, "https://[::ffff:192.168.0.1]/", "private"},
		{"link-local with zone", strict, "https://[fe80::1%25eth0]/", "link-local"},
		{"unspecified", strict, "https://0.0.0.0/", "unspecified"},
		{"loopback allowed", loopback, "https://127.0.0.1:8443/", ""},
		{"http to loopback allowed", loopback, "http://127.0.0.1:8080/hook", ""},
		{"http to localhost allowed", loopback, "http://localhost:8080/hook", ""},
		{"private still refused with loopback", loopback, "https://10.0.0.1/", "private"},
		{"http still refused to public with loopback", loopback, "http://93.184.216.34/", "https"},
		{"trusted host over http", trusted, "http://localhost:9000/", ""},
		{"trusted private address", trusted, "http://10.0.0.7/", ""},
		{"untrusted private address", trusted, "https://10.0.0.8/", "private"},
		{"credentials", strict, "https://user:pw@93.184.216.34/", "credentials"},
		{"fragment", strict, "https://93.184.216.34/#x", "fragment"},
		{"ftp", strict, "ftp://93.184.216.34/", "https"},
		{"relative", strict, "/hooks", "absolute"},
		{"opaque", strict, "https:93.184.216.34", "absolute"},
		{"no host", strict, "https:///path", "host"},
		{"bad port", strict, "https://93.184.216.34:0/", "port"},
		{"unresolvable", strict, "https://does-not-exist.invalid/", "does not resolve"},
		{"6to4", strict, "https://[2002:a00:1::1]/", "6to4"},
		{"6to4 relay", strict, "https://192.88.99.1/", "6to4 relay"},
		{"Teredo", strict, "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"},
		{"IPv4-compatible", strict, "https://[::10.0.0.1]/", "IPv4-compatible"},
		{"IPv4-compatible loopback", loopback, "https://[::127.0.0.1]/", "IPv4-compatible"},
		{"NAT64 of metadata", strict, "https://[64:ff9b::169.254.169.254]/", "NAT64"},
		{"mapped metadata", strict, "https://[::ffff:169.254.169.254]/", "link-local"},
		{"too long", strict, "https://93.184.216.34/" + strings.Repeat("a", maxURLLen), "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.checkURL(context.Background(), tt.url)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("checkURL(%q) = %v, want accepted", tt.url, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("checkURL(%q) = %v, want error containing %q", tt.url, err, tt.wantErr)
			}
		})
	}
}

// The dialler checks the address it actually connects to, whatever the URL said.
func TestDialChecksTheAddressDialled(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	tests := []struct {
		name   string
		policy urlPolicy
		addr   string
		ok     bool
	}{
		{"loopback refused", newURLPolicy(Config{}), "127.0.0.1:" + port, false},
		{"name resolving to loopback refused", newURLPolicy(Config{}), "localhost:" + port, false},
		{"loopback allowed", newURLPolicy(Config{AllowLoopback: true}), "127.0.0.1:" + port, true},
		{"trusted host", newURLPolicy(Config{AllowedHosts: []string{"localhost"}}), "localhost:" + port, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := tt.policy.dialContext(time.Second)(context.Background(), "tcp", tt.addr)
			if conn != nil {
				conn.Close()
			}
			if tt.ok != (err == nil) {
				t.Fatalf("dial %s: err = %v, want ok=%v", tt.addr, err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, errForbiddenAddress) {
				t.Fatalf("dial %s failed for another reason: %v", tt.addr, err)
			}
		})
	}
}
