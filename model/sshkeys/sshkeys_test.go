package sshkeys

import (
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

const seed = "0123456789abcdef0123456789abcdef"

func TestKeysAreStableAndDistinct(t *testing.T) {
	a, err := New(seed, "spring")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(seed, "spring")
	if a.Student("red").AuthorizedKey("") != b.Student("red").AuthorizedKey("") {
		t.Error("same seed, cohort and team gave different keys")
	}
	if a.Host("red-m1").PrivateKeyPEM("") != b.Host("red-m1").PrivateKeyPEM("") {
		t.Error("host key is not stable")
	}
	other, _ := New(seed, "autumn")
	seen := map[string]string{}
	for name, kp := range map[string]KeyPair{
		"student red": a.Student("red"), "student blue": a.Student("blue"),
		"host red-m1": a.Host("red-m1"), "host red-w1": a.Host("red-w1"), "admin": a.Admin(),
		"other cohort student red": other.Student("red"),
	} {
		fp := kp.Fingerprint()
		if prev, ok := seen[fp]; ok {
			t.Errorf("%s and %s share a key", name, prev)
		}
		seen[fp] = name
	}
}

func TestKeyFormatsRoundTrip(t *testing.T) {
	k, _ := New(seed, "c")
	kp := k.Student("t")
	line := kp.AuthorizedKey("student@t")
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil || comment != "student@t" || pub.Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("authorized key %q: %v %q", line, err, comment)
	}
	signer, err := ssh.ParsePrivateKey([]byte(kp.PrivateKeyPEM("x")))
	if err != nil {
		t.Fatal(err)
	}
	if string(signer.PublicKey().Marshal()) != string(pub.Marshal()) {
		t.Error("private key file does not match the authorized key")
	}
	if string(kp.Signer().PublicKey().Marshal()) != string(kp.PublicKey().Marshal()) {
		t.Error("signer does not match the public key")
	}
	if !strings.HasPrefix(kp.Fingerprint(), "SHA256:") {
		t.Errorf("fingerprint %s", kp.Fingerprint())
	}
}

func TestShortSeedIsRefusedWithTheFix(t *testing.T) {
	_, err := New("short", "c")
	if err == nil || !strings.Contains(err.Error(), "labfleet:keySeed") || !strings.Contains(err.Error(), "pulumi config set --secret") {
		t.Fatalf("err = %v", err)
	}
}
