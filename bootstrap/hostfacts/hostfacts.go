// Package hostfacts reads what each Docker host already has (engine, memory, kernel,
// networks, published ports, labfleet's own objects) and what each existing machine is, so
// the plan can be placed and checked against them before anything is created. It only reads.
package hostfacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/engine"
	"github.com/labfleet/labfleet/bootstrap/machines"
	"github.com/labfleet/labfleet/bootstrap/sshexec"
	"github.com/labfleet/labfleet/model/nodecontainer"
	"github.com/labfleet/labfleet/model/plan"
)

// DockerHosts inspects the hosts' engines through the docker CLI, with the same engine
// settings the provider gets, and reads their kernels where it can (this machine, or an
// ssh:// host over the same SSH). It only reads.
type DockerHosts struct{}

// inspectTimeout bounds the reading of one host: an unreachable one must not hang a run.
const inspectTimeout = 30 * time.Second

// Facts reads every host at once; a host it cannot read has its Err set.
func (DockerHosts) Facts(ctx context.Context, hosts []plan.Host) map[string]plan.HostFacts {
	return readEach(ctx, hosts, inspectTimeout, func(h plan.Host) string { return h.Name }, func(ctx context.Context, h plan.Host) plan.HostFacts {
		f, err := inspect(ctx, h.Engine)
		if err != nil {
			return plan.HostFacts{Err: err.Error()}
		}
		return f
	})
}

// readEach reads every item at once, each within timeout, into a map by key.
func readEach[T, F any](ctx context.Context, items []T, timeout time.Duration, key func(T) string, read func(context.Context, T) F) map[string]F {
	out := make(map[string]F, len(items))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, item := range items {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			f := read(ctx, item)
			mu.Lock()
			out[key(item)] = f
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func inspect(ctx context.Context, e plan.Engine) (plan.HostFacts, error) {
	var h plan.HostFacts
	out, err := engine.Docker(ctx, e, "info", "--format", "{{.ServerVersion}}|{{.NCPU}}|{{.MemTotal}}|{{.CgroupVersion}}")
	if err != nil {
		return h, err
	}
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) == 4 {
		h.Version, h.Cgroup = f[0], f[3]
		h.CPUs, _ = strconv.Atoi(f[1])
		mem, _ := strconv.ParseInt(f[2], 10, 64)
		h.MemoryMB = int(mem >> 20)
	}
	if h.Networks, err = hostNetworks(ctx, e, &h.Labelled); err != nil {
		return h, err
	}
	if h.Published, err = hostPorts(ctx, e, &h.Labelled); err != nil {
		return h, err
	}
	if h.Nodes, err = hostNodes(ctx, e); err != nil {
		return h, err
	}
	vols, err := engine.Docker(ctx, e, "volume", "ls", "--filter", "label=labfleet.cohort", "--format", `{{.Label "labfleet.cohort"}}|{{.Label "labfleet.team"}}`)
	if err != nil {
		return h, err
	}
	for _, line := range lines(vols) {
		if c, t, ok := strings.Cut(line, "|"); ok {
			h.Labelled = append(h.Labelled, plan.HostObject{Cohort: c, Team: t})
		}
	}
	// The host's own addresses are known only when the engine is this machine's.
	if e.Local() {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return h, err
		}
		h.Addresses = []netip.Addr{}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				h.Addresses = append(h.Addresses, p.Addr().Unmap())
			}
		}
	}
	if h.Kernel, h.KVM, err = readKernel(ctx, e); err != nil {
		// Unknown is not "no": a kernel read that failed once must not drop /dev/kvm from the
		// VM nodes' spec (which replaces them) or pass a check it would fail.
		h.KernelErr = err.Error()
	}
	return h, nil
}

// kernelScript prints what the host kernel offers: IPVS (loaded, or as a module the kernel
// loads on first use), the inotify limits, /dev/kvm, and the capability bounding set.
const kernelScript = plan.IPVSScript + "; " +
	`cat /proc/sys/fs/inotify/max_user_watches /proc/sys/fs/inotify/max_user_instances; ` +
	`if [ -c /dev/kvm ]; then echo kvm; else echo nokvm; fi; ` +
	`awk '/^CapBnd/ {print $2}' /proc/self/status`

// readKernel runs kernelScript on the host: here for the local engine, over the engine's
// own SSH for an ssh:// one. A tcp:// host's kernel is not visible (nil, no error); its
// nodes check what they need when they start.
func readKernel(ctx context.Context, e plan.Engine) (*plan.Kernel, bool, error) {
	var out string
	var err error
	switch dest, _ := e.SSHDestination(); {
	case e.Local():
		var b []byte
		b, err = exec.CommandContext(ctx, "sh", "-c", kernelScript).Output()
		out = string(b)
	case dest != "":
		out, err = engine.SSH(ctx, e, kernelScript)
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading its kernel: %w", err)
	}
	return parseKernel(strings.Fields(out))
}

// parseKernel reads kernelScript's output.
func parseKernel(f []string) (*plan.Kernel, bool, error) {
	if len(f) != 5 {
		return nil, false, fmt.Errorf("reading its kernel: unexpected answer %q", strings.Join(f, " "))
	}
	capBnd, _ := strconv.ParseUint(f[4], 16, 64)
	k := &plan.Kernel{CapSysResource: capBnd&(1<<plan.CapSysResource) != 0}
	k.IPVS, k.IPVSModule = plan.ParseIPVS(f[0])
	k.InotifyWatches, _ = strconv.Atoi(f[1])
	k.InotifyInstances, _ = strconv.Atoi(f[2])
	return k, f[3] == "kvm", nil
}

// machineScript prints, one per line, an existing machine's OS, Docker version ("-" when not
// installed), memory in MB, cgroup version and the node it records being ("-" when none),
// then what kernelScript prints.
const machineScript = `. /etc/os-release; echo "$PRETTY_NAME"; ` +
	// A login outside the docker group gets an empty line and a failure from the first: keep
	// one non-empty line, or "-".
	`v=$( (docker version --format '{{.Server.Version}}' || sudo -n docker version --format '{{.Server.Version}}') 2>/dev/null | grep -m1 .); echo "${v:--}"; ` +
	`awk '/^MemTotal/ {print int($2/1024)}' /proc/meminfo; ` +
	`if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo 2; else echo 1; fi; ` +
	`n=$(sed -n 's/^node //p' ` + machines.RecordPath + ` 2>/dev/null | head -n 1); echo "${n:--}"; ` + kernelScript

// machineTimeout bounds the reading of one machine; one that does not answer in it is
// reported unreachable.
const machineTimeout = 20 * time.Second

// Machines reads every existing machine of the plan at once, over SSH as its admin user, by
// target. It only reads.
func (DockerHosts) Machines(ctx context.Context, p *plan.Plan, signer ssh.Signer) map[string]plan.MachineFacts {
	var machines []bootstrap.Machine
	for _, t := range p.Teams {
		for _, n := range t.Nodes {
			if n.Machine != nil {
				machines = append(machines, bootstrap.MachineOf(n))
			}
		}
	}
	opts := sshexec.DefaultOptions
	opts.RetryFor = 5 * time.Second
	return readEach(ctx, machines, machineTimeout, func(m bootstrap.Machine) string { return m.Target }, func(ctx context.Context, m bootstrap.Machine) plan.MachineFacts {
		return readMachine(ctx, m, signer, opts)
	})
}

func readMachine(ctx context.Context, m bootstrap.Machine, signer ssh.Signer, opts sshexec.Options) plan.MachineFacts {
	c, err := bootstrap.DialMachine(ctx, m, signer, opts)
	if err != nil {
		return plan.MachineFacts{Err: err.Error()}
	}
	defer c.Close()
	out, err := c.Run(ctx, machineScript)
	if err != nil {
		return plan.MachineFacts{Err: err.Error()}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 6 {
		return plan.MachineFacts{Err: fmt.Sprintf("unexpected answer %q", out)}
	}
	f := plan.MachineFacts{OS: lines[0], Cgroup: lines[3], HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(c.HostKey())))}
	if lines[1] != "-" {
		f.Docker = lines[1]
	}
	f.MemoryMB, _ = strconv.Atoi(lines[2])
	f.Recorded = machines.ParseRecordedNode(lines[4])
	if f.Kernel, f.KVM, err = parseKernel(strings.Fields(strings.Join(lines[5:], " "))); err != nil {
		return plan.MachineFacts{Err: err.Error()}
	}
	return f
}

func lines(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(strings.TrimSpace(s), "\n")
}

func hostNetworks(ctx context.Context, e plan.Engine, labelled *[]plan.HostObject) ([]plan.HostNetwork, error) {
	ids, err := engine.Docker(ctx, e, "network", "ls", "-q")
	if err != nil || strings.TrimSpace(ids) == "" {
		return nil, err
	}
	out, err := engine.Docker(ctx, e, append([]string{"network", "inspect", "--format",
		`{{.Name}}|{{index .Labels "labfleet.cohort"}}|{{index .Labels "labfleet.team"}}|{{range .IPAM.Config}}{{.Subnet}} {{end}}`}, strings.Fields(ids)...)...)
	if err != nil {
		return nil, err
	}
	nets, objs := parseNetworks(out)
	*labelled = append(*labelled, objs...)
	return nets, nil
}

// parseNetworks reads hostNetworks' `docker network inspect` lines ("name|cohort|team|
// subnet subnet "): every network with its IPv4 subnets, and labfleet's labelled ones.
func parseNetworks(out string) ([]plan.HostNetwork, []plan.HostObject) {
	var nets []plan.HostNetwork
	var labelled []plan.HostObject
	for _, line := range lines(out) {
		f := strings.SplitN(line, "|", 4)
		if len(f) != 4 {
			continue
		}
		n := plan.HostNetwork{Name: f[0], Cohort: f[1], Team: f[2]}
		for _, s := range strings.Fields(f[3]) {
			if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
				n.Subnets = append(n.Subnets, p)
			}
		}
		nets = append(nets, n)
		if f[1] != "" {
			labelled = append(labelled, plan.HostObject{Cohort: f[1], Team: f[2]})
		}
	}
	return nets, labelled
}

// hostPorts reads `docker ps -a` port lists such as "127.0.0.1:2200->22/tcp, :::2200->22/tcp"
// (a stopped container publishes none), and the labels of every container.
func hostPorts(ctx context.Context, e plan.Engine, labelled *[]plan.HostObject) ([]plan.HostPort, error) {
	out, err := engine.Docker(ctx, e, "ps", "-a", "--format", `{{.Names}}|{{.Label "labfleet.cohort"}}|{{.Label "labfleet.team"}}|{{.Ports}}`)
	if err != nil {
		return nil, err
	}
	ports, objs := parsePorts(out)
	*labelled = append(*labelled, objs...)
	return ports, nil
}

// parsePorts reads hostPorts' `docker ps -a` lines ("name|cohort|team|ports"): the IPv4
// ports every container publishes, and labfleet's labelled containers.
func parsePorts(out string) ([]plan.HostPort, []plan.HostObject) {
	var ports []plan.HostPort
	var labelled []plan.HostObject
	for _, line := range lines(out) {
		f := strings.SplitN(line, "|", 4)
		if len(f) != 4 {
			continue
		}
		if f[1] != "" {
			labelled = append(labelled, plan.HostObject{Cohort: f[1], Team: f[2]})
		}
		for _, mapping := range strings.Split(f[3], ", ") {
			hostSide, _, ok := strings.Cut(mapping, "->")
			if !ok {
				continue
			}
			ap, err := netip.ParseAddrPort(hostSide)
			if err != nil || !ap.Addr().Is4() {
				continue
			}
			ports = append(ports, plan.HostPort{Container: f[0], Cohort: f[1], IP: ap.Addr(), Port: int(ap.Port())})
		}
	}
	return ports, labelled
}

// hostNodes reads every labfleet node container on the host as it was created (its
// address, its SSH port and its Settings), running or not.
func hostNodes(ctx context.Context, e plan.Engine) ([]plan.HostNode, error) {
	ids, err := engine.Docker(ctx, e, "ps", "-aq", "--filter", "label=labfleet.node")
	if err != nil || strings.TrimSpace(ids) == "" {
		return nil, err
	}
	out, err := engine.Docker(ctx, e, append([]string{"inspect"}, strings.Fields(ids)...)...)
	if err != nil {
		return nil, err
	}
	return parseHostNodes([]byte(out))
}

// parseHostNodes reads `docker inspect` of node containers.
func parseHostNodes(raw []byte) ([]plan.HostNode, error) {
	var containers []json.RawMessage
	if err := json.Unmarshal(raw, &containers); err != nil {
		return nil, fmt.Errorf("reading docker inspect: %w", err)
	}
	var nodes []plan.HostNode
	for _, c := range containers {
		settings, err := nodecontainer.SettingsFromInspect(c)
		if err != nil {
			return nil, err
		}
		var name struct{ Name string }
		_ = json.Unmarshal(c, &name) // cannot fail: SettingsFromInspect read the same object
		n := plan.HostNode{
			Container: strings.TrimPrefix(name.Name, "/"),
			Cohort:    settings["label labfleet.cohort"],
			Team:      settings["label labfleet.team"],
			Node:      settings["label labfleet.node"],
			Settings:  settings,
		}
		n.IP, _ = netip.ParseAddr(settings["ip"])
		if ap, err := netip.ParseAddrPort(settings["publish"]); err == nil {
			n.SSHPort = int(ap.Port())
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// Local reads the local engine alone, for tools that run a cohort on it without
// Pulumi (the integration tests, the benchmark).
func Local(ctx context.Context) (plan.HostFacts, error) {
	f := DockerHosts{}.Facts(ctx, []plan.Host{{Name: plan.LocalHost}})[plan.LocalHost]
	if f.Err != "" {
		return f, errors.New(f.Err)
	}
	return f, nil
}
