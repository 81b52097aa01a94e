package collector

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mailcluster/mailcluster_exporter/collector/facts"
	"github.com/mailcluster/mailcluster_exporter/config"
	"github.com/mailcluster/mailcluster_exporter/internal/testmail"
)

// Box identities: each box answers with its own key, certificate or header.

func sshBox(t *testing.T) func(net.Conn) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
		return nil, ssh.ErrNoAuth
	}}
	cfg.AddHostKey(signer)
	return func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _, _, _ = ssh.NewServerConn(c, cfg) // the client leaves after the key exchange
	}
}

func headerBox(value string) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Box: " + value + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	}
}

const (
	vhVIP, vhA, vhB = "127.0.0.41", "127.0.0.42", "127.0.0.43"
)

func vhSource(t *testing.T, cfg *config.VIPHolderSource) Source {
	t.Helper()
	nodes := []*config.Node{{Name: "a", Address: vhA}, {Name: "b", Address: vhB}}
	env := ssEnv("", nodes...)
	env.Cluster.Kind = config.KindActiveStandby
	env.Cluster.VirtualAddress = vhVIP
	s, err := newVIPHolderSource(env, &config.Source{Type: "vip_holder", VIPHolder: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func holders(set facts.Set) string {
	var parts []string
	for _, n := range set.Names() {
		f := set[n]
		h := "-"
		if f.VirtualHolder != nil {
			h = strconv.FormatBool(*f.VirtualHolder)
		}
		parts = append(parts, n+"="+h+"/"+string(f.Role))
	}
	return strings.Join(parts, " ")
}

// The box whose fingerprint is seen through the common address holds it
// (active); the other box that answers is standby; for each method.
func TestVIPHolderMethods(t *testing.T) {
	port := freePort(t)
	addr := func(host string) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	for _, tc := range []struct {
		method string
		boxA   func(net.Conn)
		boxB   func(net.Conn)
	}{
		{"ssh", sshBox(t), sshBox(t)},
		{"tls", testmail.TLSBox(t, "a"), testmail.TLSBox(t, "b")},
		{"http_header", headerBox("box-a"), headerBox("box-b")},
	} {
		t.Run(tc.method, func(t *testing.T) {
			testmail.Listen(t, addr(vhA), tc.boxA)
			testmail.Listen(t, addr(vhB), tc.boxB)
			testmail.Listen(t, addr(vhVIP), tc.boxB) // b holds the common IP
			set, err := ssCollect(t, vhSource(t, &config.VIPHolderSource{Method: tc.method, Port: port, Header: "X-Box"}))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := holders(set), "a=false/standby b=true/active"; got != want {
				t.Errorf("holders = %s, want %s", got, want)
			}
		})
	}
}

// Nothing through the common address: no evidence about anyone. A box
// that does not answer gets no fact. Two boxes with one identity fail.
func TestVIPHolderEvidence(t *testing.T) {
	port := freePort(t)
	addr := func(host string) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	cfg := &config.VIPHolderSource{Method: "http_header", Port: port, Header: "X-Box", Timeout: 0}

	t.Run("vip silent", func(t *testing.T) {
		testmail.Listen(t, addr(vhA), headerBox("box-a"))
		set, err := ssCollect(t, vhSource(t, cfg))
		if err != nil || len(set) != 0 {
			t.Errorf("silent common address: %s, err %v; want no facts", holders(set), err)
		}
	})
	t.Run("standby off", func(t *testing.T) {
		testmail.Listen(t, addr(vhA), headerBox("box-a"))
		testmail.Listen(t, addr(vhVIP), headerBox("box-a"))
		set, err := ssCollect(t, vhSource(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := holders(set), "a=true/active"; got != want {
			t.Errorf("holders = %s, want %s", got, want)
		}
	})
	t.Run("same identity", func(t *testing.T) {
		testmail.Listen(t, addr(vhA), headerBox("clone"))
		testmail.Listen(t, addr(vhB), headerBox("clone"))
		testmail.Listen(t, addr(vhVIP), headerBox("clone"))
		_, err := ssCollect(t, vhSource(t, cfg))
		if err == nil || !strings.Contains(err.Error(), "nodes a and b") {
			t.Errorf("cloned identity: err = %v, want one naming both nodes", err)
		}
	})
}
