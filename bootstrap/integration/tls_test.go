package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/hostfacts"
	"github.com/labfleet/labfleet/model/plan"
)

// certAuthority issues the test's TLS certificates.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newCA(t *testing.T) *certAuthority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "labfleet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &certAuthority{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue returns a certificate and key, as PEM, for a server (at ip) or a client.
func (ca *certAuthority) issue(t *testing.T, serial int64, usage x509.ExtKeyUsage, ip net.IP) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "labfleet test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// tlsEngine serves the local engine's API on a loopback TCP port the way `dockerd
// --tlsverify` does: TLS with a server certificate of ca, and only clients with a
// certificate of ca. It stops when the test ends.
func tlsEngine(t *testing.T, ca *certAuthority) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, 2, x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				if err := conn.(*tls.Conn).Handshake(); err != nil {
					return // a client without a certificate of ca
				}
				up, err := net.Dial("unix", "/var/run/docker.sock")
				if err != nil {
					return
				}
				defer up.Close()
				// Whichever side ends first ends both, or dockerd keeps an idle connection
				// open for minutes and the test waits for it.
				go func() { io.Copy(up, conn); up.Close() }()
				io.Copy(conn, up)
			})
		}
	})
	return "tcp://" + ln.Addr().String()
}

// A host reached as tcp:// with TLS client material: the CLI gets the material labfleet
// holds (as the provider would), reads the host, and a team is created and bootstrapped on
// it; a client certificate of another authority is refused.
func TestATLSEngine(t *testing.T) {
	requireDocker(t)
	ca := newCA(t)
	url := tlsEngine(t, ca)
	clientCert, clientKey := ca.issue(t, 3, x509.ExtKeyUsageClientAuth, nil)

	cfg := testConfig("lfit-tls", 24900, "10.68.0.0/16")
	cfg.Teams, cfg.Workers = 1, 1
	cfg.Hosts = []plan.HostConfig{{Name: plan.LocalHost}, {Name: "tls", Docker: url, TLS: &plan.TLS{CA: ca.pem, Cert: clientCert, Key: clientKey},
		SSHAddress: "127.0.0.1", PublicHost: "127.0.0.1"}}
	cfg.TeamHosts = map[string]string{"team1": "tls"}
	p, err := plan.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Cleanup)
	facts := hostfacts.DockerHosts{}.Facts(context.Background(), p.Hosts)
	t.Log("preflight:\n" + p.PreflightTable(facts))
	if f := facts["tls"]; f.Err != "" || f.Version == "" || f.Kernel != nil {
		t.Fatalf("the TLS host: %+v (want it read, its kernel not visible through the API)", f)
	}
	if err := p.CheckHosts(facts); err != nil {
		t.Fatal(err)
	}

	c := startCohort(t, p, nodeImage)
	res, err := bootstrap.Cohort(context.Background(), p, c.keys, nil, bootstrap.Options{})
	if err != nil || res["team1"].Swarm.ClusterID == "" {
		t.Fatalf("team1 on the TLS host: %+v %v", res, err)
	}

	other := newCA(t)
	badCert, badKey := other.issue(t, 4, x509.ExtKeyUsageClientAuth, nil)
	_, err = engine.Docker(context.Background(), plan.Engine{URL: url, TLS: &plan.TLS{CA: ca.pem, Cert: badCert, Key: badKey}}, "info")
	if err == nil || !strings.Contains(err.Error(), "-H "+url) {
		t.Errorf("a client certificate of another authority: %v", err)
	}
}
