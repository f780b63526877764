package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labfleet/labfleet/bootstrap/lab"
	"github.com/labfleet/labfleet/bootstrap/localnodes"
	"github.com/labfleet/labfleet/bootstrap/steps"
	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
)

// rawCohort is the floor any tool has to pay for what labfleet does: swarm init/join and the
// Day-2 lab (images streamed into every node, the stack deployed and waited for) by plain
// `docker exec`, no SSH, no state checks, every team and every stream at once.
func rawCohort(ctx context.Context, c *localnodes.Cohort, images labImages) (time.Duration, error) {
	archives, err := images.save(ctx)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(filepath.Dir(archives[0]))
	errs := make([]error, len(c.Plan.Teams))
	var wg sync.WaitGroup
	for i, team := range c.Plan.Teams {
		wg.Go(func() {
			if errs[i] = rawSwarm(ctx, team); errs[i] == nil {
				errs[i] = rawLab(ctx, c.Plan, team, images, archives)
			}
		})
	}
	wg.Wait()
	return 0, errors.Join(errs...)
}

func rawExec(ctx context.Context, n plan.Node, cmd string) (string, error) {
	return localnodes.Docker(ctx, "exec", "-u", "student", n.ContainerName, "sh", "-c", cmd)
}

func rawSwarm(ctx context.Context, team plan.Team) error {
	for _, n := range team.Nodes {
		if err := poll(ctx, func() bool { _, err := rawExec(ctx, n, "docker info >/dev/null"); return err == nil }); err != nil {
			return fmt.Errorf("%s: dockerd: %w", n.Name, err)
		}
	}
	m := team.Nodes[0]
	if _, err := rawExec(ctx, m, "docker swarm init --advertise-addr "+m.IP.String()); err != nil {
		return err
	}
	token, err := rawExec(ctx, m, "docker swarm join-token -q worker")
	if err != nil {
		return err
	}
	for _, w := range team.Nodes[1:] {
		if _, err := rawExec(ctx, w, fmt.Sprintf("docker swarm join --token %s %s:2377", strings.TrimSpace(token), m.IP)); err != nil {
			return err
		}
	}
	return poll(ctx, func() bool {
		out, _ := rawExec(ctx, m, "docker node ls --format '{{.Status}}'")
		return strings.Count(out, "Ready") == len(team.Nodes)
	})
}

// rawLab loads the lab images into every node of the team at once, then deploys the same
// rendered day2 stack labfleet deploys and waits until every service runs all replicas.
func rawLab(ctx context.Context, p *plan.Plan, team plan.Team, images labImages, archives []string) error {
	err := steps.Each(team.Nodes, func(n plan.Node) error {
		for i, img := range day2.Images {
			f, err := os.Open(archives[i])
			if err != nil {
				return err
			}
			cmd := localnodes.Command(ctx, "exec", "-i", n.ContainerName, "docker", "load", "-q")
			cmd.Stdin = f
			out, err := cmd.CombinedOutput()
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: docker load: %v: %s", n.Name, err, out)
			}
			if _, err := rawExec(ctx, n, fmt.Sprintf("docker tag %s %s", images[img.Name], img.NodeRef())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var ids []string
	for _, img := range day2.Images {
		ids = append(ids, images[img.Name])
	}
	stack, err := day2.Render(p.Day2.Port, true, ids)
	if err != nil {
		return err
	}
	m := team.Nodes[0]
	cmd := localnodes.Command(ctx, "exec", "-i", "-u", "student", m.ContainerName, "sh", "-c",
		"cat > /tmp/day2.yml && docker stack deploy --resolve-image never -c /tmp/day2.yml "+day2.StackName)
	cmd.Stdin = strings.NewReader(stack.YAML)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: stack deploy: %v: %s", m.Name, err, out)
	}
	return poll(ctx, func() bool {
		out, _ := rawExec(ctx, m, "docker stack services --format '{{.Name}} {{.Replicas}}' "+day2.StackName)
		listed := strings.Count(strings.TrimSpace(out), "\n") + 1
		return strings.TrimSpace(out) != "" && listed == len(stack.Services) && len(lab.NotConverged(out)) == 0
	})
}

func poll(ctx context.Context, ok func() bool) error {
	return steps.Poll(ctx, "raw baseline", 3*time.Minute, 100*time.Millisecond, func(context.Context) (bool, error) {
		return ok(), nil
	})
}

// labImages are the Day-2 lab images built on the host, by name.
type labImages map[string]string

// buildLabImages builds the lab images from the Dockerfile the program uses.
func buildLabImages(ctx context.Context) (labImages, error) {
	ids := labImages{}
	for _, img := range day2.Images {
		ref := "labfleet-bench-" + img.Name + ":latest"
		if _, err := localnodes.Docker(ctx, "build", "-q", "--target", img.Target, "-t", ref, day2.AppsContext); err != nil {
			return nil, err
		}
		id, err := localnodes.Docker(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
		if err != nil {
			return nil, err
		}
		ids[img.Name] = strings.TrimSpace(id)
	}
	return ids, nil
}

// save writes each image's archive once (as labfleet does), in day2.Images order.
func (l labImages) save(ctx context.Context) ([]string, error) {
	dir, err := os.MkdirTemp("", "lfbench-raw-")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, img := range day2.Images {
		path := filepath.Join(dir, img.Name+".tar")
		if _, err := localnodes.Docker(ctx, "save", "-o", path, l[img.Name]); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
