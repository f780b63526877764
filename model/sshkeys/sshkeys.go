// Package sshkeys derives a cohort's SSH keys from one secret seed: an ed25519 login key per
// team, labfleet's own admin key, and an ed25519 host key per node. Deriving instead of generating means the keys are
// identical on every `pulumi up` without storing them anywhere but the stack's encrypted
// config, a replaced node container gets its old host key back (so pinned host keys stay
// valid), and rotating every key is one config change.
package sshkeys

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// MinSeedLength keeps a guessable seed from yielding guessable keys.
const MinSeedLength = 32

// KeyPair is one ed25519 key in the forms labfleet hands out.
type KeyPair struct {
	private ed25519.PrivateKey
	public  ssh.PublicKey
}

// Keys derives a cohort's keys. The cohort name is part of the derivation, so two stacks
// that happen to share a seed still get different keys.
type Keys struct {
	seed   []byte
	cohort string
	// machine logs in to existing machines as their own admin user (labfleet:machineKey);
	// nil for a cohort of node containers.
	machine ssh.Signer
}

// WithMachineKey adds the instructor's key for existing machines (labfleet:machineKey, an
// OpenSSH private key without a passphrase).
func (k *Keys) WithMachineKey(pemText string) error {
	s, err := ParseMachineKey(pemText)
	k.machine = s
	return err
}

// ParseMachineKey reads labfleet:machineKey, naming the setting and the fix when it is not
// a key labfleet can use.
func ParseMachineKey(pemText string) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey([]byte(pemText))
	if err != nil {
		return nil, fmt.Errorf("labfleet:machineKey is not an unencrypted OpenSSH private key (%v): pulumi config set --secret labfleet:machineKey < ~/.ssh/lab_admin", err)
	}
	return s, nil
}

// Machine is the key labfleet logs in to existing machines with, as their admin user.
func (k *Keys) Machine() ssh.Signer { return k.machine }

// New checks the seed and returns the cohort's key source.
func New(seed, cohort string) (*Keys, error) {
	if len(seed) < MinSeedLength {
		return nil, fmt.Errorf("labfleet:keySeed must be a secret of at least %d characters (got %d): "+
			"head -c 32 /dev/urandom | base64 | pulumi config set --secret labfleet:keySeed", MinSeedLength, len(seed))
	}
	return &Keys{seed: []byte(seed), cohort: cohort}, nil
}

// Student is the key a team's students log in with, on every node of their team.
func (k *Keys) Student(team string) KeyPair {
	return k.derive("team/" + team + "/student")
}

// Admin is the key labfleet itself logs in with, as its own user, on every node of the
// cohort. Students never get it, so nothing they do to their own account or the team key
// locks the instructor's next run out.
func (k *Keys) Admin() KeyPair {
	return k.derive("admin")
}

// Host is a node's sshd host key, which the bootstrap pins.
func (k *Keys) Host(node string) KeyPair {
	return k.derive("node/" + node + "/host")
}

func (k *Keys) derive(purpose string) KeyPair {
	info := "labfleet/v1/" + k.cohort + "/" + purpose
	seed, err := hkdf.Key(sha256.New, k.seed, nil, info, ed25519.SeedSize)
	if err != nil {
		// hkdf.Key fails only for lengths beyond 255*32 bytes; ed25519.SeedSize is 32.
		panic(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		panic(err) // an ed25519 public key is always accepted
	}
	return KeyPair{private: priv, public: pub}
}

// PublicKey is the key in x/crypto/ssh form, for pinning with ssh.FixedHostKey.
func (p KeyPair) PublicKey() ssh.PublicKey { return p.public }

// AuthorizedKey is the one-line "ssh-ed25519 AAAA... comment" form.
func (p KeyPair) AuthorizedKey(comment string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p.public)))
	if comment != "" {
		line += " " + comment
	}
	return line + "\n"
}

// PrivateKeyPEM is the OpenSSH private key file that `ssh -i` and sshd's HostKey read.
// ssh.MarshalPrivateKey fills the format's check bytes at random, which would change the
// file on every run (and replace the node that receives it), so it is encoded here with
// check bytes derived from the key itself.
func (p KeyPair) PrivateKeyPEM(comment string) string {
	const magic = "openssh-key-v1\x00"
	pubWire := p.public.Marshal()
	digest := sha256.Sum256(p.private.Seed())
	check := binary.BigEndian.Uint32(digest[:4])

	secret := ssh.Marshal(struct {
		Check1, Check2 uint32
		KeyType        string
		Pub            []byte
		Priv           []byte
		Comment        string
	}{check, check, ssh.KeyAlgoED25519, p.private.Public().(ed25519.PublicKey), p.private, comment})
	for i := 1; len(secret)%8 != 0; i++ { // pad to the "none" cipher's block size
		secret = append(secret, byte(i))
	}
	body := ssh.Marshal(struct {
		Cipher, KDF, KDFOptions string
		NumKeys                 uint32
		Pub, Secret             []byte
	}{"none", "none", "", 1, pubWire, secret})
	return string(pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: append([]byte(magic), body...)}))
}

// Signer authenticates with this key.
func (p KeyPair) Signer() ssh.Signer {
	s, err := ssh.NewSignerFromKey(p.private)
	if err != nil {
		panic(err) // ed25519 keys are always supported
	}
	return s
}

// Fingerprint is the SHA256 fingerprint ssh prints, for students to compare.
func (p KeyPair) Fingerprint() string { return ssh.FingerprintSHA256(p.public) }
