// Package day2 is the Day-2 lab as data: the two app images (built from stacks/apps) and
// the stack file deployed on every team's swarm, rendered for the host's routing mesh.
package day2

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strconv"
	"strings"
	"text/template"
)

// AppsContext is the build context of the lab images, relative to the project directory.
const AppsContext = "stacks/apps"

// StackName is the name of the deployed stack; its services are day2_web (and day2_edge).
const StackName = "day2"

// Image is one lab image: built on the Docker host as <cohort>-<Name>, and known on every
// node as <Name>:latest, the name the course's commands use.
type Image struct {
	Name   string // e.g. "improved-app"
	Target string // the Dockerfile stage
}

// NodeRef is the reference students type on a node.
func (i Image) NodeRef() string { return i.Name + ":latest" }

// HostRef is the reference of the image built on the Docker host for a cohort.
func (i Image) HostRef(cohort string) string { return cohort + "-" + i.Name + ":latest" }

// Images are the lab's images.
var Images = []Image{
	{Name: "memory-leak-app", Target: "memory-leak-app"},
	{Name: "improved-app", Target: "improved-app"},
}

// CurlFormat is the course's curl-format.txt, put in every student's home directory for
// `curl -w "@curl-format.txt" -o /dev/null -s http://localhost:8080/`.
//
//go:embed curl-format.txt
var CurlFormat string

//go:embed stack.yml.tmpl
var stackTemplate string

var stackTmpl = template.Must(template.New("stack").Parse(stackTemplate))

// WebReplicas is how many replicas of improved-app the stack runs, as the course does.
const WebReplicas = 3

// Stack is a rendered stack file and the hash that says when it must be redeployed.
type Stack struct {
	YAML string
	Hash string // also the label labfleet.stack-hash of the first service
	// Services are the stack's services as swarm names them, the first carrying the hash.
	Services []Service
}

// Service is one service of the stack and its replica count ("" for a global service).
type Service struct {
	Name     string
	Replicas string
}

// Render renders the stack for a published port and routing mode. The hash covers the
// template, the settings and the image IDs, so the stack is redeployed exactly when one of
// them changes.
func Render(port int, hostMode bool, imageIDs []string) (Stack, error) {
	sum := sha256.New()
	sum.Write([]byte(stackTemplate))
	settings := []string{strconv.Itoa(port), strconv.FormatBool(hostMode)}
	sum.Write([]byte(strings.Join(append(settings, imageIDs...), "\n")))
	hash := hex.EncodeToString(sum.Sum(nil))[:16]
	var b bytes.Buffer
	err := stackTmpl.Execute(&b, struct {
		Port, Replicas int
		HostMode       bool
		Hash           string
	}{port, WebReplicas, hostMode, hash})
	services := []Service{{Name: StackName + "_web", Replicas: strconv.Itoa(WebReplicas)}}
	if hostMode {
		services = append(services, Service{Name: StackName + "_edge"})
	}
	return Stack{YAML: b.String(), Hash: hash, Services: services}, err
}
