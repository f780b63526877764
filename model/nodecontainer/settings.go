package nodecontainer

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Settings are the parts of the spec that the Docker provider cannot change on a running
// container: a change to any of them replaces the node's container. Memory and the restart
// policy are changed in place (docker update); the image, capabilities and security options
// are ignored for changes (see infra.NewNode); the uploads (keys) do not show on the engine.
// Each setting is one canonical string, the same whether written from a spec or read back
// from the engine (SettingsFromInspect), so that labfleet can tell before a run which node
// containers it would replace.
func (s Spec) Settings() map[string]string {
	out := map[string]string{
		"hostname":     s.Hostname,
		"network":      s.Network,
		"ip":           s.IP,
		"publish":      fmt.Sprintf("%s:%d", s.PublishIP, s.PublishPort),
		"cpus":         cpusSetting(s.CPUs),
		"privileged":   strconv.FormatBool(s.Privileged),
		"stop-timeout": strconv.Itoa(s.StopGrace),
	}
	for _, m := range s.Mounts {
		out["mount "+m.Target] = m.Volume
	}
	for _, d := range s.Devices {
		out["device "+d] = d
	}
	for k, v := range s.Env {
		out["env "+k] = v
	}
	for path, opts := range s.Tmpfs {
		out["tmpfs "+path] = opts
	}
	for k, v := range s.Labels {
		out["label "+k] = v
	}
	return out
}

// cpusSetting writes a CPU limit as the engine keeps it, in billionths of a CPU.
func cpusSetting(cpus string) string {
	f, err := strconv.ParseFloat(cpus, 64)
	if err != nil {
		return cpus
	}
	return strconv.FormatInt(int64(f*1e9+0.5), 10)
}

// inspected is the part of `docker inspect` of a container that Settings covers.
type inspected struct {
	Config struct {
		Hostname    string
		Env         []string
		Labels      map[string]string
		StopTimeout *int
	}
	HostConfig struct {
		NanoCpus     int64
		Privileged   bool
		Tmpfs        map[string]string
		Mounts       []struct{ Type, Source, Target string }
		Devices      []struct{ PathOnHost, PathInContainer string }
		PortBindings map[string][]struct{ HostIp, HostPort string }
	}
	NetworkSettings struct {
		Networks map[string]struct {
			IPAMConfig *struct{ IPv4Address string }
		}
	}
}

// SettingsFromInspect reads a node container's Settings back from its `docker inspect`
// (one object). Only labfleet's own environment variables and labels count: the image adds
// others, which the spec does not set.
func SettingsFromInspect(raw []byte) (map[string]string, error) {
	var c inspected
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("reading docker inspect: %w", err)
	}
	out := map[string]string{
		"hostname":   c.Config.Hostname,
		"cpus":       strconv.FormatInt(c.HostConfig.NanoCpus, 10),
		"privileged": strconv.FormatBool(c.HostConfig.Privileged),
	}
	if c.Config.StopTimeout != nil {
		out["stop-timeout"] = strconv.Itoa(*c.Config.StopTimeout)
	}
	// A node is on its team network alone.
	for _, name := range slices.Sorted(maps.Keys(c.NetworkSettings.Networks)) {
		out["network"] = name
		if ipam := c.NetworkSettings.Networks[name].IPAMConfig; ipam != nil {
			out["ip"] = ipam.IPv4Address
		}
	}
	if b := c.HostConfig.PortBindings["22/tcp"]; len(b) > 0 {
		out["publish"] = b[0].HostIp + ":" + b[0].HostPort
	}
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" {
			out["mount "+m.Target] = m.Source
		}
	}
	for _, d := range c.HostConfig.Devices {
		out["device "+d.PathInContainer] = d.PathOnHost
	}
	for _, e := range c.Config.Env {
		if k, v, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, "LABFLEET_") {
			out["env "+k] = v
		}
	}
	for path, opts := range c.HostConfig.Tmpfs {
		out["tmpfs "+path] = opts
	}
	for k, v := range c.Config.Labels {
		if strings.HasPrefix(k, "labfleet.") {
			out["label "+k] = v
		}
	}
	return out, nil
}

// Changes lists, in a stable order, the settings that differ between a container as it is
// (was) and as the plan wants it (want): "cpus 1000000000 → 2000000000".
func Changes(was, want map[string]string) []string {
	var out []string
	union := maps.Clone(was)
	maps.Copy(union, want)
	keys := slices.Sorted(maps.Keys(union))
	for _, k := range keys {
		a, inWas := was[k]
		b, inWant := want[k]
		switch {
		case inWas && inWant && a == b:
		case !inWas:
			out = append(out, fmt.Sprintf("%s added (%s)", k, b))
		case !inWant:
			out = append(out, fmt.Sprintf("%s removed (was %s)", k, a))
		default:
			out = append(out, fmt.Sprintf("%s %s → %s", k, a, b))
		}
	}
	return out
}
