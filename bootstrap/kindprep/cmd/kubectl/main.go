// Command kubectl is upstream kubectl (k8s.io/kubectl, pinned in go.mod), built here so the
// Docker host can hand it to every node: nodes download nothing in class. This is the whole
// of kubernetes/cmd/kubectl/kubectl.go.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}
