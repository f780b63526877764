package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/stacks/day2"
	"github.com/labfleet/labfleet/stacks/day3"
)

// bootstrapIntent says, in an instructor's words, what the SSH bootstrap will converge every
// team to. The bootstrap itself creates no Pulumi resource, so a change only it acts on
// (day 2 to 3, day2Stack, day3Prep, more workers, a reset) would otherwise be invisible in
// `pulumi preview`; as a stack output known at preview time, it shows up there as a diff.
func bootstrapIntent(p *plan.Plan) pulumi.Map {
	swarms := pulumi.StringMap{}
	for _, t := range p.Teams {
		swarms[t.Name] = pulumi.String(swarmIntent(t, p.ResetSwarms[t.Name]))
	}
	return pulumi.Map{
		"swarms": swarms,
		"day2":   pulumi.String(day2Intent(p.Day2)),
		"day3":   pulumi.String(day3Intent(p)),
	}
}

func swarmIntent(t plan.Team, reset string) string {
	names := func(nodes []plan.Node) string {
		var out []string
		for _, n := range nodes {
			out = append(out, n.Name)
		}
		return strings.Join(out, ", ")
	}
	s := fmt.Sprintf("managers %s", names(t.Managers()))
	if workers := t.Workers(); len(workers) > 0 {
		s += fmt.Sprintf("; workers %s", names(workers))
	}
	if reset != "" {
		s += fmt.Sprintf("; START OVER: swarm %s is replaced by a new one (labfleet:resetSwarms)", reset)
	}
	return s
}

func day2Intent(d plan.Day2) string {
	if !d.Enabled {
		return "off: any day2 stack is removed (students' own services stay)"
	}
	var images []string
	for _, img := range day2.Images {
		images = append(images, img.Name)
	}
	return fmt.Sprintf("stack %s (%s) published on port %d of every node, routing mesh %s",
		day2.StackName, strings.Join(images, ", "), d.Port, d.Mesh)
}

func day3Intent(p *plan.Plan) string {
	d := p.Day3
	switch {
	case d.Clusters:
		var hosts []string
		for _, t := range p.Teams {
			// Program has rendered every team's config before any resource, so this cannot fail.
			if cfg, err := day3.Render(d, t); err == nil {
				hosts = append(hosts, cfg.HostNode)
			}
		}
		return fmt.Sprintf("clusters: a kind cluster per team (%d control-plane + %d worker nodes, %s) on %s; kubeconfigs handed out",
			d.ControlPlanes, d.Workers, d.NodeImage, strings.Join(hosts, ", "))
	case d.Prepare:
		return fmt.Sprintf("prepare: kind %s and kubectl on every node, %s preloaded; no cluster yet (any day-3 cluster is removed)",
			day3.KindVersion, d.NodeImage)
	default:
		return "off: any day-3 cluster is removed"
	}
}
