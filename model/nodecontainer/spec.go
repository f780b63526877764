// Package nodecontainer is the one definition of a labfleet node container. The Pulumi
// program renders it into docker.ContainerArgs, and bootstrap/localnodes into `docker create`
// arguments for the integration tests and the benchmark, so they start exactly the
// containers `pulumi up` does.
package nodecontainer

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// Paths inside the node where labfleet puts the SSH keys (see infra/nodeimage).
const (
	HostKeyPath        = "/etc/labfleet/ssh_host_ed25519_key"
	AuthorizedKeysPath = "/etc/labfleet/authorized_keys"
	// AdminAuthorizedKeysPath holds labfleet's own key, for plan.AdminUser only.
	AdminAuthorizedKeysPath = "/etc/labfleet/admin_authorized_keys"
	DockerDataPath          = "/var/lib/docker"
	// VMDataPath holds a VM node's guest disk (an overlay on the image's base disk).
	VMDataPath = "/var/lib/labfleet-vm"
)

// Spec is everything about one node container, as plain values.
type Spec struct {
	Name         string
	Hostname     string
	Image        string
	Network      string
	IP           string
	Privileged   bool
	CapAdd       []string
	CapDrop      []string
	SecurityOpts []string
	Tmpfs        map[string]string
	// Mounts are the node's named volumes, which outlive its container: a dind node's
	// /var/lib/docker and the student's home, a VM node's guest disk.
	Mounts      []Mount
	Devices     []string          // host devices passed in, at the same path
	Env         map[string]string // the VM launcher's settings
	PublishIP   string
	PublishPort int // host port for the node's sshd
	MemoryMB    int
	CPUs        string
	Labels      map[string]string
	Restart     string
	StopGrace   int // seconds dockerd inside gets to stop its containers
	Uploads     []Upload
}

// Mount is a named volume mounted at Target.
type Mount struct{ Volume, Target string }

// Upload is a file copied into the container before it starts.
type Upload struct {
	Path    string
	Content string
	Mode    string // octal, e.g. "0600"
	Secret  bool
}

// For returns the spec of node n of team t.
func For(p *plan.Plan, t plan.Team, n plan.Node, image string, keys *sshkeys.Keys) Spec {
	s := Spec{
		Name:        n.ContainerName,
		Hostname:    n.Name,
		Image:       image,
		Network:     t.NetworkName,
		IP:          n.IP.String(),
		Tmpfs:       map[string]string{"/run": "rw,exec,nosuid,nodev,size=64m", "/tmp": "rw,exec,nosuid,nodev"},
		Mounts:      []Mount{{n.VolumeName, DockerDataPath}, {n.HomeVolumeName, plan.StudentHome}},
		PublishIP:   p.Host(n.Host).SSHAddress,
		PublishPort: n.SSHPort,
		MemoryMB:    p.ContainerMemoryMB(),
		CPUs:        p.NodeCPUs,
		Labels:      p.Labels(t.Name, &n),
		Restart:     "unless-stopped",
		StopGrace:   20,
		Uploads: []Upload{
			{Path: HostKeyPath, Content: keys.Host(n.Name).PrivateKeyPEM(n.Name), Mode: "0600", Secret: true},
			{Path: AuthorizedKeysPath, Content: keys.Student(t.Name).AuthorizedKey(p.SSHUser + "@" + t.Name), Mode: "0644"},
			{Path: AdminAuthorizedKeysPath, Content: keys.Admin().AuthorizedKey(plan.AdminUser + "@" + p.Cohort), Mode: "0644"},
		},
	}
	if p.NodeKind == plan.NodeKindVM {
		// QEMU needs only to manage the container's own network (bridge, tap) and /dev/net/tun;
		// everything a student does with root stays inside the guest's kernel.
		s.Mounts = []Mount{{n.VolumeName, VMDataPath}} // the student's home is on the guest's disk
		s.CapAdd = []string{"NET_ADMIN"}
		s.Devices = []string{"/dev/net/tun"}
		if p.Host(n.Host).KVMDevice {
			s.Devices = append(s.Devices, "/dev/kvm")
		}
		s.Env = map[string]string{
			"LABFLEET_VM_MEMORY": strconv.Itoa(p.VM.MemoryMB),
			"LABFLEET_VM_CPUS":   strconv.Itoa(p.VM.CPUs),
			"LABFLEET_VM_ACCEL":  string(p.VM.Accel),
		}
		s.Tmpfs = map[string]string{"/run": "rw,nosuid,nodev,size=16m", "/tmp": "rw,nosuid,nodev"}
		s.StopGrace = 60 // the guest shuts down cleanly (ACPI power button) before it is killed
		return s
	}
	switch p.Privilege {
	case plan.PrivilegePrivileged:
		s.Privileged = true
	case plan.PrivilegeReduced:
		s.Privileged = false
		// Everything --privileged grants that a nested dockerd needs, minus CAP_SYS_RESOURCE,
		// which some hosts' capability bounding sets lack (docker then refuses to start).
		s.CapAdd = []string{"ALL"}
		if !p.Host(n.Host).NoCapDrop {
			s.CapDrop = []string{"CAP_SYS_RESOURCE"} // the spelling Docker reports back
		}
		// Docker's masked and read-only /proc paths stay as they are (no systempaths=unconfined):
		// /proc/sysrq-trigger, /proc/kcore, /proc/sys/kernel (core_pattern) and the rest.
		// The node's entrypoint makes only /proc/sys/net writable, which is per network
		// namespace and is all the nested dockerd needs.
		s.SecurityOpts = []string{"seccomp=unconfined", "apparmor=unconfined"}
	}
	return s
}

// DockerCreateArgs renders the spec as `docker create` arguments. Uploads are not part of
// them: copy them with `docker cp` before `docker start`, as the Pulumi provider does.
func (s Spec) DockerCreateArgs() []string {
	args := []string{
		"--name", s.Name,
		"--hostname", s.Hostname,
		"--network", s.Network,
		"--ip", s.IP,
		"--publish", fmt.Sprintf("%s:%d:22/tcp", s.PublishIP, s.PublishPort),
		"--memory", strconv.Itoa(s.MemoryMB) + "m",
		"--memory-swap", strconv.Itoa(s.MemoryMB) + "m",
		"--cpus", s.CPUs,
		"--restart", s.Restart,
		"--stop-timeout", strconv.Itoa(s.StopGrace),
	}
	for _, m := range s.Mounts {
		args = append(args, "--mount", fmt.Sprintf("type=volume,source=%s,target=%s", m.Volume, m.Target))
	}
	if s.Privileged {
		args = append(args, "--privileged")
	}
	for _, c := range s.CapAdd {
		args = append(args, "--cap-add", c)
	}
	for _, c := range s.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	for _, o := range s.SecurityOpts {
		args = append(args, "--security-opt", o)
	}
	for _, d := range s.Devices {
		args = append(args, "--device", d)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		args = append(args, "--env", k+"="+s.Env[k])
	}
	for _, path := range slices.Sorted(maps.Keys(s.Tmpfs)) {
		args = append(args, "--tmpfs", path+":"+s.Tmpfs[path])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		args = append(args, "--label", k+"="+s.Labels[k])
	}
	return append(args, s.Image)
}
