package status

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/labfleet/labfleet/bootstrap/remote"
	"github.com/labfleet/labfleet/bootstrap/steps"
)

// Progress is how far a team has come through the Day-2 lab, judged from what the engines
// of its nodes report (container state, the daemon's events, swarm task history), never
// from what anyone claims. Phase 3 is the team's kept labprobe runs (TeamStatus.Runs).
type Progress struct {
	// Phase1 is a memory-leak-app container OOM-killed on one of the team's nodes.
	Phase1 Evidence `json:"phase1"`
	// Phase 2, on a service of the students' own (not the day2 stack) running improved-app:
	// three replicas running, a task killed and the service whole again, scaled to 6 and
	// then back to 2.
	Replicas3  Evidence `json:"replicas3"`
	KillHealed Evidence `json:"killHealed"`
	Scaled6To2 Evidence `json:"scaled6to2"`
}

// Evidence is one step of the lab: seen or not, and what showed it.
type Evidence struct {
	Seen bool   `json:"seen"`
	What string `json:"what,omitempty"`
}

func seen(format string, args ...any) Evidence {
	return Evidence{Seen: true, What: fmt.Sprintf(format, args...)}
}

// Phase2 is whether every step of Phase 2 was seen.
func (p Progress) Phase2() bool { return p.Replicas3.Seen && p.KillHealed.Seen && p.Scaled6To2.Seen }

// Merge keeps what either saw: the daemon keeps a limited number of events and swarm a
// limited task history, so evidence seen once stays seen for whoever keeps watching (the
// dashboard).
func (p Progress) Merge(earlier Progress) Progress {
	keep := func(now, then Evidence) Evidence {
		if now.Seen {
			return now
		}
		return then
	}
	return Progress{keep(p.Phase1, earlier.Phase1), keep(p.Replicas3, earlier.Replicas3), keep(p.KillHealed, earlier.KillHealed), keep(p.Scaled6To2, earlier.Scaled6To2)}
}

const leakImage = "memory-leak-app"

// oomQuery lists, on one node, the memory-leak-app containers the kernel OOM-killed, as their
// state says, and the OOM events the daemon still holds (of containers since removed too).
var oomQuery = "docker ps -aq --filter ancestor=" + leakImage + " | xargs -r docker inspect --format 'state {{.Name}} {{.State.OOMKilled}}'; " +
	"docker events --since 168h --until 0s --filter type=container --filter event=oom --format 'event {{.Actor.Attributes.name}} {{.Actor.Attributes.image}}'"

// parseOOM finds a memory-leak-app container that was OOM-killed in oomQuery's answer.
func parseOOM(node, out string) (Evidence, bool) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "state" && f[2] == "true":
			return seen("%s OOM-killed on %s", strings.TrimPrefix(f[1], "/"), node), true
		case len(f) == 3 && f[0] == "event" && strings.HasPrefix(f[2], leakImage):
			return seen("%s OOM-killed on %s", f[1], node), true
		}
	}
	return Evidence{}, false
}

// phase1 looks for Phase 1's OOM on every node that answered; of several, it names the
// first by name, so the page does not flicker between them.
func phase1(ctx context.Context, t Team, conns map[string]steps.Runner) Evidence {
	var found Evidence
	for node, out := range askEachNode(ctx, t, conns, oomQuery) {
		if e, ok := parseOOM(node, out); ok && (!found.Seen || e.What < found.What) {
			found = e
		}
	}
	return found
}

// taskEntry is one line of `docker service ps --format '{{json .}}'`.
type taskEntry struct {
	Name         string // service.slot
	DesiredState string
	CurrentState string
	Error        string
}

// scaleEvent is the attributes of a service's update event; a scale sets replicas.old/new.
type scaleEvent struct {
	Name string `json:"name"`
	Old  string `json:"replicas.old"`
	New  string `json:"replicas.new"`
}

// phase2Query asks a manager for the task history of the named services and every service
// update the daemon still holds, in one round trip. Each part stands alone: a service the
// students removed a moment ago leaves its part empty, the others still count.
func phase2Query(services []string) string {
	var b strings.Builder
	for _, s := range services {
		fmt.Fprintf(&b, "echo %s; docker service ps --format '{{json .}}' %s; ", remote.Quote(sectionPrefix+"tasks "+s), remote.Quote(s))
	}
	fmt.Fprintf(&b, "echo '%sevents'; docker events --since 168h --until 0s --filter type=service --filter event=update --format '{{json .Actor.Attributes}}'", sectionPrefix)
	return b.String()
}

// phase2 judges Phase 2 on the students' replicated improved-app services (not a global
// edge proxy of theirs), asking the manager that answered askManager. What cannot be read
// is not seen; only the manager not answering at all is an error.
func phase2(ctx context.Context, manager steps.Runner, students []Service) (p Progress, err error) {
	var candidates []Service
	for _, s := range students {
		if strings.HasPrefix(s.Image, "improved-app") && s.Mode == "replicated" {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return p, nil
	}
	var names []string
	for _, s := range candidates {
		names = append(names, s.Name)
		if s.Running >= 3 && !p.Replicas3.Seen {
			p.Replicas3 = seen("%s: %d/%d running", s.Name, s.Running, s.Desired)
		}
	}
	out, err := manager.Run(ctx, phase2Query(names))
	if err != nil {
		return p, err
	}
	// No part is required: a part missing or unreadable is just not seen.
	parts, _ := sections(out)
	events, _ := parseLines[scaleEvent]("docker events", parts["events"])
	for _, s := range candidates {
		tasks, _ := parseLines[taskEntry]("docker service ps", parts["tasks "+s.Name])
		if !p.KillHealed.Seen && s.Desired > 0 && s.Running == s.Desired {
			for _, task := range tasks {
				// The CLI prints the task's error quoted: "task: non-zero exit (137)".
				why := strings.TrimPrefix(strings.Trim(task.Error, `"`), "task: ")
				if strings.Contains(why, "non-zero exit (137)") || strings.Contains(why, "non-zero exit (143)") {
					p.KillHealed = seen("%s: task %s killed (%s), %d/%d running again", s.Name, task.Name, why, s.Running, s.Desired)
					break
				}
			}
		}
		// Scaled to at least 6, then down to at most 2, in the daemon's order of events.
		peak := 0
		for _, e := range events {
			if e.Name != s.Name || e.New == "" {
				continue
			}
			old, _ := strconv.Atoi(e.Old)
			replicas, _ := strconv.Atoi(e.New)
			if old >= 3 && !p.Replicas3.Seen {
				p.Replicas3 = seen("%s: scaled from %d", s.Name, old)
			}
			peak = max(peak, replicas)
			if peak >= 6 && replicas <= 2 && !p.Scaled6To2.Seen {
				p.Scaled6To2 = seen("%s: scaled to %d, then to %d", s.Name, peak, replicas)
			}
		}
	}
	return p, nil
}
