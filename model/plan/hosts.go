package plan

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// HostConfig is one entry of labfleet:hosts: a Docker engine that runs some teams' nodes.
// Every field but Name is optional; the address and port settings default to the
// cohort-wide keys (labfleet:sshAddress, ...), except that a remote engine publishes on
// every address and is reached at the engine's own host name.
type HostConfig struct {
	Name        string   `json:"name"`
	Docker      string   `json:"docker"`      // "" (the local engine, or $DOCKER_HOST), unix://, ssh://user@host[:port], tcp://host:port
	SSHOpts     []string `json:"sshOpts"`     // ssh options for an ssh:// engine, e.g. ["-i", "/path/key"]
	PublicHost  string   `json:"publicHost"`  // where students and the bootstrap reach this host's node ports
	SSHAddress  string   `json:"sshAddress"`  // the host address node SSH ports bind to
	SSHPortBase int      `json:"sshPortBase"` // first published SSH port on this host
	AddressPool string   `json:"addressPool"` // team subnets on this host are cut from it
	MaxTeams    int      `json:"maxTeams"`    // capacity in teams; 0: no limit
	Memory      string   `json:"memory"`      // capacity in node memory, e.g. "64g"; "": no limit
	TLS         *TLS     `json:"tls"`         // client certificate for a tcp:// engine
}

// TLS is the client material of a tcp:// engine, as PEM text. It is secret: set it with
// `pulumi config set --secret --path`.
type TLS struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// LocalHost is the name of the host a cohort without labfleet:hosts runs on.
const LocalHost = "local"

// Host is a validated Docker host of the cohort.
type Host struct {
	Name        string
	Index       int // position in labfleet:hosts
	Engine      Engine
	SSHAddress  string // bind address of the node SSH ports published here
	PublicHost  string // where students (and the bootstrap) reach those ports
	SSHPortBase int
	AddressPool netip.Prefix
	MaxTeams    int // 0: no limit
	MemoryMB    int // 0: not declared
	// KVMDevice passes the host's /dev/kvm into its VM node containers; set from the host
	// facts (the host has it, and vmAccel is not tcg).
	KVMDevice bool
	// NoCapDrop: the reduced mode drops no capability on this host (see CheckHosts).
	NoCapDrop bool
	// keys names the config key each address setting came from, for error messages.
	keys map[string]string
}

// Engine is how labfleet reaches a host's Docker engine: the pulumi-docker provider and
// the docker CLI both take it.
type Engine struct {
	URL     string // "" means the local engine ($DOCKER_HOST, or the default socket)
	SSHOpts []string
	TLS     *TLS
}

// Local reports whether the engine is this machine's, so that its addresses and devices
// can be read directly.
func (e Engine) Local() bool { return e.URL == "" || strings.HasPrefix(e.URL, "unix://") }

// SSHDestination is the user@host and port of an ssh:// engine, as the ssh command takes
// them ("" for other engines).
func (e Engine) SSHDestination() (dest string, port string) {
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme != "ssh" {
		return "", ""
	}
	dest = u.Hostname()
	if u.User != nil {
		dest = u.User.Username() + "@" + dest
	}
	return dest, u.Port()
}

// Key is the config key a host's setting comes from: its own field in labfleet:hosts, or
// the cohort-wide key it defaults to.
func (h Host) Key(field string) string {
	if k, ok := h.keys[field]; ok {
		return k
	}
	return field
}

// Host returns the host named name.
func (p *Plan) Host(name string) Host {
	for _, h := range p.Hosts {
		if h.Name == name {
			return h
		}
	}
	return Host{}
}

// TeamsOn returns the teams whose node containers run on a host, in plan order.
func (p *Plan) TeamsOn(host string) []Team {
	var out []Team
	for _, t := range p.TeamsServedBy(host) {
		if !t.OnMachines() {
			out = append(out, t)
		}
	}
	return out
}

// TeamsServedBy returns the teams whose images a host builds: its own teams, and the teams
// on existing machines for the local host (their lab images are streamed over SSH).
func (p *Plan) TeamsServedBy(host string) []Team {
	var out []Team
	for _, t := range p.Teams {
		if t.Host == host {
			out = append(out, t)
		}
	}
	return out
}

// TeamMemoryMB is the node memory one team takes on its host.
func (p *Plan) TeamMemoryMB(t Team) int { return len(t.Nodes) * p.ContainerMemoryMB() }

var hostNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// hosts validates labfleet:hosts (or makes the one local host when it is empty).
func (v *validator) hosts(cfg Config, teams int) []Host {
	list := cfg.Hosts
	if len(list) == 0 {
		list = []HostConfig{{Name: LocalHost}}
	}
	var out []Host
	seen := map[string]bool{}
	for i, hc := range list {
		key := fmt.Sprintf("hosts[%d]", i)
		if !hostNamePattern.MatchString(hc.Name) || strings.HasSuffix(hc.Name, "-") {
			v.fail(key+".name", "%q is not a host name labfleet can use: use 1-20 lowercase letters, digits and '-', starting with a letter, e.g. big1", hc.Name)
		} else if seen[hc.Name] {
			v.fail(key+".name", "%q is listed twice: host names must be unique", hc.Name)
		}
		seen[hc.Name] = true
		h := Host{Name: hc.Name, Index: i, MaxTeams: hc.MaxTeams, keys: map[string]string{}}
		h.Engine = v.engine(key, hc)
		own := func(field string, set bool) {
			if set {
				h.keys[field] = key + "." + field
			}
		}
		own("sshAddress", hc.SSHAddress != "")
		own("publicHost", hc.PublicHost != "")
		own("sshPortBase", hc.SSHPortBase != 0)
		own("addressPool", hc.AddressPool != "")

		bind, public := cfg.SSHAddress, cfg.PublicHost
		if !h.Engine.Local() {
			// A remote engine's nodes must be reachable from the machine running labfleet.
			bind, public = "0.0.0.0", engineHost(h.Engine.URL)
		}
		if hc.SSHAddress != "" {
			bind = hc.SSHAddress
		}
		if hc.PublicHost != "" {
			public = hc.PublicHost
		}
		h.SSHAddress, h.PublicHost = v.addresses(h, bind, public)
		h.SSHPortBase = orDefault(hc.SSHPortBase, cfg.SSHPortBase)
		v.portRange(h, h.SSHPortBase, teams)
		pool := cfg.AddressPool
		if hc.AddressPool != "" {
			pool = hc.AddressPool
		}
		h.AddressPool = v.pool(h.Key("addressPool"), pool, teams)
		if hc.MaxTeams < 0 {
			v.fail(key+".maxTeams", "%d: use a positive number of teams, or leave it out for no limit", hc.MaxTeams)
		}
		if hc.Memory != "" {
			h.MemoryMB = v.memory(key+".memory", hc.Memory, MinNodeMemoryMB)
		}
		out = append(out, h)
	}
	return out
}

func orDefault(own, cohort int) int {
	if own != 0 {
		return own
	}
	return cohort
}

// engineHost is the host name an ssh:// or tcp:// engine URL names.
func engineHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (v *validator) engine(key string, hc HostConfig) Engine {
	e := Engine{URL: hc.Docker, SSHOpts: hc.SSHOpts, TLS: hc.TLS}
	if e.URL == "" {
		if e.TLS != nil || len(e.SSHOpts) > 0 {
			v.fail(key+".docker", "is empty (the local engine), but tls or sshOpts are set: give the engine's URL, e.g. ssh://admin@big2 or tcp://big2:2376")
		}
		return e
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Hostname() == "" && u.Scheme != "unix" {
		v.fail(key+".docker", "%q is not a Docker engine URL: use ssh://user@host[:port], tcp://host:2376 (with tls) or unix:///var/run/docker.sock", e.URL)
		return e
	}
	switch u.Scheme {
	case "unix":
	case "ssh":
		if !hostPattern.MatchString(u.Hostname()) {
			v.fail(key+".docker", "%q: %q is not a host name or address", e.URL, u.Hostname())
		}
	case "tcp":
		// An engine on TCP without TLS makes anyone on its network root there.
		if e.TLS == nil || e.TLS.CA == "" || e.TLS.Cert == "" || e.TLS.Key == "" {
			v.fail(key+".tls", "%s needs TLS client material (ca, cert, key): pulumi config set --secret --path 'labfleet:%s.tls.key' \"$(cat key.pem)\" (and the same for ca and cert); labfleet does not talk to an engine on plain TCP", e.URL, key)
		}
	default:
		v.fail(key+".docker", "%q: use ssh://user@host[:port], tcp://host:2376 (with tls) or unix:///var/run/docker.sock", e.URL)
	}
	if u.Scheme != "tcp" && e.TLS != nil {
		v.fail(key+".tls", "is set for %s: TLS material applies to tcp:// engines only", e.URL)
	}
	if u.Scheme != "ssh" && len(e.SSHOpts) > 0 {
		v.fail(key+".sshOpts", "is set for %s: ssh options apply to ssh:// engines only", e.URL)
	}
	return e
}

// teamHosts validates labfleet:teamHosts: every team and host it names must exist.
func (v *validator) teamHosts(overrides map[string]string, teams []string, hosts []Host) {
	for _, team := range sortedKeys(overrides) {
		if !slices.Contains(teams, team) {
			v.fail("teamHosts", "names team %q, which the cohort does not have (teams: %s): remove it with pulumi config rm --path 'labfleet:teamHosts.%s'",
				team, strings.Join(teams, ", "), team)
		}
		if !slices.ContainsFunc(hosts, func(h Host) bool { return h.Name == overrides[team] }) {
			v.fail("teamHosts", "puts team %s on host %q, which labfleet:hosts does not list (hosts: %s)", team, overrides[team], hostNames(hosts))
		}
	}
}

func hostNames(hosts []Host) string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	return strings.Join(names, ", ")
}

// place puts every team on a host, in three passes, so that no run ever moves a team that
// already lives somewhere (moving one wipes it):
//  1. a team named in labfleet:teamHosts goes where it says (a deliberate move);
//  2. a team that already lives on a listed host (cfg.Current) stays there;
//  3. every other team, in team order, goes to the host with the fewest teams that still has
//     room (maxTeams, memory), the first listed on a tie.
//
// It returns each team's host, and the problems (a team that fits nowhere, a host over its
// declared capacity), each saying how much is missing and where.
func (v *validator) place(cfg Config, teams []string, hosts []Host, teamMB int) map[string]string {
	where := map[string]string{}
	count := map[string]int{}
	put := func(team, host string) { where[team] = host; count[host]++ }
	listed := func(name string) bool { return slices.ContainsFunc(hosts, func(h Host) bool { return h.Name == name }) }
	for _, t := range teams {
		if h, ok := cfg.TeamHosts[t]; ok && listed(h) {
			put(t, h)
		}
	}
	for _, t := range teams {
		if _, done := where[t]; done {
			continue
		}
		if h, ok := cfg.Current[t]; ok {
			if !listed(h) {
				v.fail("hosts", "team %s lives on host %q (its containers are there), which labfleet:hosts no longer lists: list it again, or move the team deliberately with pulumi config set --path 'labfleet:teamHosts.%s' <host> (it starts over, empty, there)", t, h, t)
				continue
			}
			put(t, h)
		}
	}
	room := func(h Host) bool {
		return (h.MaxTeams == 0 || count[h.Name] < h.MaxTeams) && (h.MemoryMB == 0 || (count[h.Name]+1)*teamMB <= h.MemoryMB)
	}
	for _, t := range teams {
		if _, done := where[t]; done {
			continue
		}
		best := -1
		for i, h := range hosts {
			if room(h) && (best < 0 || count[h.Name] < count[hosts[best].Name]) {
				best = i
			}
		}
		if best < 0 {
			v.fail("hosts", "team %s fits on no host (%s; a team takes %dm of node memory): add a host, or raise a host's maxTeams or memory",
				t, capacities(hosts, count, teamMB), teamMB)
			continue
		}
		put(t, hosts[best].Name)
	}
	for _, h := range hosts {
		key := fmt.Sprintf("hosts[%d]", h.Index)
		if h.MaxTeams > 0 && count[h.Name] > h.MaxTeams {
			v.fail(key+".maxTeams", "host %s holds %d teams but declares maxTeams %d: %d team(s) too many: raise maxTeams, or move a team with labfleet:teamHosts",
				h.Name, count[h.Name], h.MaxTeams, count[h.Name]-h.MaxTeams)
		}
		if need := count[h.Name] * teamMB; h.MemoryMB > 0 && need > h.MemoryMB {
			v.fail(key+".memory", "host %s holds %d teams that need %dm of node memory but declares %dm: %dm missing: raise its memory, or move a team with labfleet:teamHosts",
				h.Name, count[h.Name], need, h.MemoryMB, need-h.MemoryMB)
		}
	}
	return where
}

func capacities(hosts []Host, count map[string]int, teamMB int) string {
	var parts []string
	for _, h := range hosts {
		s := fmt.Sprintf("%s holds %d", h.Name, count[h.Name])
		if h.MaxTeams > 0 {
			s += fmt.Sprintf(" of maxTeams %d", h.MaxTeams)
		}
		if h.MemoryMB > 0 {
			s += fmt.Sprintf(", %dm of memory %dm", count[h.Name]*teamMB, h.MemoryMB)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// SSHTarget is "host:port" where students and the bootstrap reach the node's sshd.
func (p *Plan) SSHTarget(n Node) string {
	if n.Machine != nil {
		return n.Machine.Target()
	}
	return net.JoinHostPort(p.Host(n.Host).PublicHost, strconv.Itoa(n.SSHPort))
}
