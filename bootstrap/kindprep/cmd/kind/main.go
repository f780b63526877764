// Command kind is upstream kind (sigs.k8s.io/kind, pinned in go.mod), built here so the
// Docker host can hand it to every node. This is the whole of kind's own main.go.
package main

import "sigs.k8s.io/kind/cmd/kind/app"

func main() {
	app.Main()
}
