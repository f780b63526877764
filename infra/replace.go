package infra

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/labfleet/labfleet/model/plan"
	"github.com/labfleet/labfleet/model/sshkeys"
)

// ReplaceEnv names the node containers one run may replace, by node name, separated by
// commas, or "all". Set for that command alone (`LABFLEET_REPLACE_NODES=team1-w1 pulumi up`,
// or `make up REPLACE_NODES=team1-w1`): a setting kept in the stack would let a later edit
// replace nodes unasked.
const ReplaceEnv = "LABFLEET_REPLACE_NODES"

// Replacement is a node whose container exists with other settings than the plan gives it:
// `pulumi up` would replace the container.
type Replacement struct {
	Node    string
	Changes []string // what differs (nodecontainer.Changes)
}

// Replacements lists, in plan order, the planned nodes whose containers exist on their
// hosts with settings the Docker provider cannot change in place.
func Replacements(p *plan.Plan, keys *sshkeys.Keys, facts map[string]plan.HostFacts) []Replacement {
	sources := newNodeSources(p, keys)
	var out []Replacement
	for _, t := range p.Teams {
		out = append(out, sources.of(t).replacements(t, facts)...)
	}
	return out
}

// checkReplacements stops a run that would replace node containers of a running cohort,
// unless ReplaceEnv names them: the preview says so in one sentence, `pulumi up` refuses
// before any resource is registered.
func checkReplacements(ctx *pulumi.Context, p *plan.Plan, keys *sshkeys.Keys, facts map[string]plan.HostFacts) error {
	replacing := Replacements(p, keys, facts)
	if len(replacing) == 0 {
		return nil
	}
	allowed := strings.Split(os.Getenv(ReplaceEnv), ",")
	var names, asked, described []string
	for _, r := range replacing {
		names = append(names, r.Node)
		if !slices.Contains(allowed, "all") && !slices.Contains(allowed, r.Node) {
			asked = append(asked, r.Node)
		}
		described = append(described, fmt.Sprintf("%s (%s)", r.Node, strings.Join(r.Changes, ", ")))
	}
	kept := "/var/lib/docker and the student's home stay, on their volumes"
	switch {
	case p.NodeKind == plan.NodeKindVM:
		kept = "the guest's disk stays, on its volume"
	case slices.ContainsFunc(replacing, func(r Replacement) bool { return slices.Contains(r.Changes, homeAdded(r.Node, p)) }):
		// A node made before homes had volumes: its home is in the container itself.
		kept = "/var/lib/docker stays; the student's home gets a volume of its own from now on, and what is in it now is NOT kept: " +
			"upgrade labfleet between courses, or copy the homes out first (docker cp <container>:" + plan.StudentHome + " .)"
	}
	msg := fmt.Sprintf("this run would replace %d node container(s) of the running cohort: %s. A replaced node restarts (its containers stop, its swarm tasks move; %s). "+
		"Only when asked: %s=%s pulumi up (make up REPLACE_NODES=%s)",
		len(replacing), strings.Join(described, "; "), kept, ReplaceEnv, strings.Join(names, ","), strings.Join(names, ","))
	switch {
	case ctx.DryRun():
		return ctx.Log.Warn(msg, nil)
	case len(asked) > 0:
		return errors.New(msg)
	default:
		return ctx.Log.Warn(fmt.Sprintf("replacing node container(s) %s, as %s asks", strings.Join(names, ", "), ReplaceEnv), nil)
	}
}

// homeAdded is the change that gives a node made by an older labfleet its home volume.
func homeAdded(node string, p *plan.Plan) string {
	return fmt.Sprintf("mount %s added (%s-%s-home)", plan.StudentHome, p.Cohort, node)
}
