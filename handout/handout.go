// Package handout turns a cohort's stack outputs into what the instructor hands each team:
// a one-page card (Markdown, and HTML to print on A4), the team's private key, a known_hosts
// file with every node's pinned host key, and an ssh_config so `ssh -F team1.ssh_config team1-m1`
// just works.
package handout

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/labfleet/labfleet/model/outputs"
)

// An Option changes what Files renders.
type Option func(*options)

type options struct{ keysOnCards bool }

// KeysOnCards prints each team's private key on its HTML card, under a warning. Without it
// the key is only in its own file: paper gets copied, photographed and left on desks.
func KeysOnCards(o *options) { o.keysOnCards = true }

// Files renders every team's handout files, by file name: per team the Markdown card, the
// printable HTML card, the private key, known_hosts and ssh_config (and the kubeconfig on
// day 3), and AllTeamsFile with every team's card, one per printed page.
func Files(o outputs.Outputs, opts ...Option) (map[string]string, error) {
	var set options
	for _, opt := range opts {
		opt(&set)
	}
	files := map[string]string{}
	var cards []*card
	for _, name := range o.TeamNames() {
		key, ok := o.StudentKeys[name]
		if !ok {
			return nil, fmt.Errorf("team %s has no key in studentKeys: run `pulumi stack output --json --show-secrets`", name)
		}
		c, err := newCard(name, o.Teams[name], o.Kubeconfigs[name])
		if err != nil {
			return nil, err
		}
		if set.keysOnCards {
			c.PrivateKey = key
		}
		page, err := renderHTML("Team "+name+": lab access", []*card{c})
		if err != nil {
			return nil, err
		}
		files[name+".md"] = c.markdown()
		files[name+".html"] = page
		files[c.KeyFile] = key
		files[c.KnownHostsFile] = c.KnownHosts
		files[c.ConfigFile] = c.SSHConfig
		if c.KubeconfigFile != "" {
			files[c.KubeconfigFile] = o.Kubeconfigs[name]
		}
		cards = append(cards, c)
	}
	if len(cards) > 0 {
		all, err := renderHTML(fmt.Sprintf("Lab access: %d teams", len(cards)), cards)
		if err != nil {
			return nil, err
		}
		files[AllTeamsFile] = all
	}
	return files, nil
}

// Write puts the files in dir, each readable by its owner only (0600), also when it
// already existed with wider rights: keys and kubeconfigs are among them, and the rest
// names the cohort's hosts and ports.
func Write(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, content := range files {
		tmp, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return err
		}
		_, err = tmp.WriteString(content)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(dir, name))
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}
