package infra

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/infra/plan"
)

// HostInspector reads what the Docker host already has (networks, published ports, CPUs),
// so the plan can be checked against it before any resource is registered.
type HostInspector interface {
	Facts(ctx context.Context) (plan.HostFacts, error)
}

// DockerHost inspects the engine the docker provider talks to, through the docker CLI
// (DOCKER_HOST applies to both). It only reads.
type DockerHost struct{}

// Facts implements HostInspector.
func (DockerHost) Facts(ctx context.Context) (plan.HostFacts, error) {
	var h plan.HostFacts
	out, err := localnodes.Docker(ctx, "info", "--format", "{{.NCPU}}")
	if err != nil {
		return h, err
	}
	h.CPUs, _ = strconv.Atoi(strings.TrimSpace(out))
	if h.Networks, err = hostNetworks(ctx); err != nil {
		return h, err
	}
	if h.Published, err = hostPorts(ctx); err != nil {
		return h, err
	}
	// The host's own addresses and devices are known only when the engine is this machine's.
	if dh := os.Getenv("DOCKER_HOST"); dh == "" || strings.HasPrefix(dh, "unix://") {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return h, err
		}
		_, err = os.Stat("/dev/kvm")
		h.KVM = err == nil
		h.Addresses = []netip.Addr{}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				h.Addresses = append(h.Addresses, p.Addr().Unmap())
			}
		}
	}
	return h, nil
}

func hostNetworks(ctx context.Context) ([]plan.HostNetwork, error) {
	ids, err := localnodes.Docker(ctx, "network", "ls", "-q")
	if err != nil || strings.TrimSpace(ids) == "" {
		return nil, err
	}
	out, err := localnodes.Docker(ctx, append([]string{"network", "inspect", "--format",
		`{{.Name}}|{{index .Labels "labfleet.cohort"}}|{{range .IPAM.Config}}{{.Subnet}} {{end}}`}, strings.Fields(ids)...)...)
	if err != nil {
		return nil, err
	}
	var nets []plan.HostNetwork
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			continue
		}
		n := plan.HostNetwork{Name: f[0], Cohort: f[1]}
		for _, s := range strings.Fields(f[2]) {
			if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
				n.Subnets = append(n.Subnets, p)
			}
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// hostPorts reads `docker ps` port lists such as "127.0.0.1:2200->22/tcp, :::2200->22/tcp".
func hostPorts(ctx context.Context) ([]plan.HostPort, error) {
	out, err := localnodes.Docker(ctx, "ps", "--format", `{{.Names}}|{{.Label "labfleet.cohort"}}|{{.Ports}}`)
	if err != nil {
		return nil, err
	}
	var ports []plan.HostPort
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, "|", 3)
		if len(f) != 3 {
			continue
		}
		for _, mapping := range strings.Split(f[2], ", ") {
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
	return ports, nil
}
