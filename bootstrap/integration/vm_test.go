package integration

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labfleet/labfleet/bootstrap"
	"github.com/labfleet/labfleet/bootstrap/kindprep"
	"github.com/labfleet/labfleet/infra"
	"github.com/labfleet/labfleet/model/plan"
)

const vmImage = "labfleet-it-vm:latest"

var vmImageBuild imageBuild

// requireVMImage builds the VM node image from infra/vmimage, as the program does.
func requireVMImage(t *testing.T) {
	t.Helper()
	requireDocker(t)
	vmImageBuild.require(t, vmImage, "-f", filepath.Join(repoRoot(), infra.VMImageDockerfile), filepath.Join(repoRoot(), infra.VMImageContext))
}

func vmConfig(name string, portBase int, pool string) plan.Config {
	cfg := testConfig(name, portBase, pool)
	cfg.Teams, cfg.Managers, cfg.Workers = 1, 1, 1
	cfg.NodeKind, cfg.VMMemory, cfg.NodeCPUs = "vm", "1g", "1"
	return cfg
}

// One team of VM nodes (1 manager + 1 worker) under the real SSH bootstrap with the Day-2
// lab: the routing mesh works in the guests (their own kernel has IPVS), so the course's
// Phase-2 command answers as written on every node; the guests are isolated from the host
// and other networks; a graceful restart keeps the guest's disk; a replaced node rejoins.
func TestVMNodes(t *testing.T) {
	requireVMImage(t)
	ids := labImages(t)
	cfg := vmConfig("lfit-vm", 23600, "172.16.0.0/16")
	cfg.Day2Stack = true
	c := newCohortOf(t, cfg, vmImage)
	var logs logBook
	start := time.Now()
	res, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), bootstrap.Options{Report: logs.log(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE VM nodes started -> swarm and Day-2 lab ready: %s", time.Since(start).Round(time.Second))
	team := c.plan.Teams[0]
	assertSwarm(t, c, team, res["team1"].Swarm)
	if mesh := res["team1"].Lab.Mesh; mesh != plan.MeshIngress {
		t.Errorf("the guests' own kernel has IPVS, yet the mesh is %s", mesh)
	}
	accel := res["team1"].Accel
	if accel != "kvm" && accel != "tcg" || strings.TrimSpace(c.run("team1-w1", "cat /etc/labfleet/accel")) != accel {
		t.Errorf("acceleration reported %q", accel)
	}
	t.Logf("VM acceleration chosen by the launcher: %s", accel)

	t.Run("the course's Phase-2 command answers on every node through the routing mesh", func(t *testing.T) {
		mgr := "team1-m1"
		c.run(mgr, "docker service create --detach --name web-service --replicas 3 --publish 8080:3000 --update-delay 10s --update-parallelism 1 improved-app:latest >/dev/null")
		replicas := func(want string) {
			t.Helper()
			waitFor(t, 4*time.Minute, func() bool {
				out, _ := c.ssh(mgr).Run(context.Background(), "docker service ls --filter name=web-service --format '{{.Replicas}}'")
				return strings.HasPrefix(strings.TrimSpace(out), want)
			})
		}
		answers := func() {
			t.Helper()
			for _, n := range team.Nodes {
				waitFor(t, 2*time.Minute, func() bool {
					out, err := c.ssh(mgr).Run(context.Background(), fmt.Sprintf("curl -sf --max-time 3 http://%s:8080/", n.IP))
					return err == nil && strings.Contains(out, "served by")
				})
				// The course's own loop, on the node itself: curl -s localhost:8080/
				if out := c.run(n.Name, "curl -s --max-time 5 localhost:8080/"); !strings.Contains(out, "served by") {
					t.Errorf("%s: curl localhost:8080: %q", n.Name, out)
				}
			}
		}
		replicas("3/3")
		answers()
		// Kill one task's container where it runs: the swarm replaces it.
		victim := strings.Fields(c.run(mgr, "docker service ps -q --filter desired-state=running web-service | head -n1 | xargs docker inspect --format '{{.NodeID}} {{.Status.ContainerStatus.ContainerID}}'"))
		host := strings.TrimSpace(c.run(mgr, "docker node inspect --format '{{.Description.Hostname}}' "+victim[0]))
		killed := time.Now()
		c.run(host, "docker kill "+victim[1]+" >/dev/null")
		waitFor(t, 4*time.Minute, func() bool {
			out, _ := c.ssh(mgr).Run(context.Background(), "docker service ps --filter desired-state=running --format '{{.CurrentState}}' web-service | grep -c Running")
			return strings.TrimSpace(out) == "3"
		})
		t.Logf("MEASURE a killed web-service task replaced on a VM node after %s", time.Since(killed).Round(time.Second))
		c.run(mgr, "docker service scale --detach web-service=6 >/dev/null")
		replicas("6/6")
		c.run(mgr, "docker service scale --detach web-service=2 >/dev/null")
		replicas("2/2")
		answers()
	})

	t.Run("privileged containers and cgroup v2 inside the guest: Day 3's preflight passes", func(t *testing.T) {
		if fs := strings.TrimSpace(c.run("team1-w1", "stat -fc %T /sys/fs/cgroup")); fs != "cgroup2fs" {
			t.Errorf("cgroup filesystem %s", fs)
		}
		// The Day-3 preflight, run where it runs for real (inside the first node), finds
		// nothing that blocks kind on a cgroup-v1 Docker host like this one.
		d := c.plan.Day3
		d.ControlPlanes, d.Workers = 1, 0
		findings, err := kindprep.Preflight(context.Background(), c.ssh("team1-m1"), d, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			if strings.Contains(f.Msg, "cgroup") || strings.Contains(f.Msg, "CAP_SYS_RESOURCE") {
				t.Errorf("preflight in a VM guest: %s", f.Msg)
			}
		}
		out := c.run("team1-w1", "docker run -d --privileged --name priv improved-app:latest >/dev/null && docker inspect --format '{{.State.Running}} {{.HostConfig.Privileged}}' priv && docker rm -f priv >/dev/null")
		if strings.TrimSpace(out) != "true true" {
			t.Errorf("privileged container: %q", out)
		}
	})

	t.Run("root in the guest sees neither the host nor other networks", func(t *testing.T) {
		// A process on the host with a name no guest process has.
		marker := exec.Command("sleep", "4242.4242")
		if err := marker.Start(); err != nil {
			t.Fatal(err)
		}
		defer marker.Process.Kill()
		if out := c.run("team1-w1", "sudo ps -eo args | grep -c '[s]leep 4242.4242' || true"); strings.TrimSpace(out) != "0" {
			t.Errorf("the guest sees a host process: %s", out)
		}
		if init := c.run("team1-w1", "sudo tr '\\0' ' ' </proc/1/cmdline"); !strings.Contains(init, "systemd") && !strings.Contains(init, "/sbin/init") {
			t.Errorf("PID 1 of the guest is %q", init)
		}
		if _, err := docker(context.Background(), "network", "create", "--subnet", "10.250.0.0/24", "lfit-vm-other"); err != nil {
			t.Fatal(err)
		}
		defer docker(context.Background(), "network", "rm", "lfit-vm-other")
		if _, err := docker(context.Background(), "run", "-d", "--name", "lfit-vm-other-app", "--network", "lfit-vm-other", "--ip", "10.250.0.10", labImageRef("improved-app")); err != nil {
			t.Fatal(err)
		}
		defer docker(context.Background(), "rm", "-f", "lfit-vm-other-app")
		if out, err := c.ssh("team1-w1").Run(context.Background(), "curl -sf --max-time 3 http://10.250.0.10:3000/health"); err == nil {
			t.Errorf("a guest reached another Docker network: %s", out)
		}
	})

	t.Run("a graceful stop and restart keeps the guest's disk and address", func(t *testing.T) {
		w1 := team.Nodes[1]
		c.run(w1.Name, "echo kept > ~/kept.txt")
		stop := time.Now()
		if _, err := docker(context.Background(), "stop", w1.ContainerName); err != nil {
			t.Fatal(err)
		}
		took := time.Since(stop)
		t.Logf("MEASURE graceful stop of a VM node: %s", took.Round(time.Second))
		// The launcher logs on stderr, the guest's console on stdout: read both.
		console, _ := exec.Command("docker", "logs", "--tail", "3", w1.ContainerName).CombinedOutput()
		if !strings.Contains(string(console), "the guest powered off") || took > 55*time.Second {
			t.Errorf("the guest did not shut down by itself within the grace (%s):\n%s", took.Round(time.Second), console)
		}
		if _, err := docker(context.Background(), "start", w1.ContainerName); err != nil {
			t.Fatal(err)
		}
		back, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), bootstrap.Options{Report: logs.log(t)})
		if err != nil {
			t.Fatal(err)
		}
		if out := c.run(w1.Name, "cat ~/kept.txt"); strings.TrimSpace(out) != "kept" {
			t.Errorf("file after restart: %q", out)
		}
		if back["team1"].Swarm.ClusterID != res["team1"].Swarm.ClusterID {
			t.Errorf("the swarm changed across a restart")
		}
		assertSwarm(t, c, team, back["team1"].Swarm)
	})

	t.Run("a replaced VM node rejoins its swarm", func(t *testing.T) {
		c.replaceNode("team1-w1")
		healed, err := bootstrap.Cohort(context.Background(), c.plan, c.keys, bootstrap.LocalLabImages(ids), bootstrap.Options{Report: logs.log(t)})
		if err != nil {
			t.Fatal(err)
		}
		r := healed["team1"].Swarm
		if r.ClusterID != res["team1"].Swarm.ClusterID || !hasAction(r, "join team1-w1 as worker") || !hasAction(r, "remove stale entry") {
			t.Errorf("cluster %s, actions %v", r.ClusterID, r.Actions)
		}
		assertSwarm(t, c, team, r)
		logs.assertNoSecrets(t, c, res, healed)
	})
}
