// labfleet-podnet is the pod network of labfleet's kind clusters, in the place of kind's
// kindnetd (whose module the Go proxy does not serve). It runs on every node (a DaemonSet
// on the host network) and does what kindnetd does for one IPv4 cluster:
//   - writes the node's CNI config: ptp links on the node's pod CIDR (node.spec.podCIDR,
//     given out by the controller manager), host-local addresses, portmap for hostPorts;
//   - routes every other node's pod CIDR through that node's address (the nodes share one
//     Docker network, so a route is all a pod on another node needs);
//   - masquerades what pods send outside the cluster's pod range (to the node's network, to
//     the internet where there is one); pod to pod traffic keeps its addresses.
//
// It reads the nodes every few seconds and converges; every step is idempotent.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	cniConfig = "/etc/cni/net.d/10-labfleet-podnet.conflist"
	interval  = 5 * time.Second
)

func main() {
	nodeName, podSubnet := os.Getenv("NODE_NAME"), os.Getenv("POD_SUBNET")
	_, cluster, err := net.ParseCIDR(podSubnet)
	if nodeName == "" || err != nil {
		log.Fatalf("labfleet-podnet: NODE_NAME (%q) and POD_SUBNET (%q, an IPv4 CIDR) must be set", nodeName, podSubnet)
	}
	config, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("labfleet-podnet: %v", err)
	}
	client := kubernetes.NewForConfigOrDie(config)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	for {
		if err := converge(ctx, client, nodeName, cluster); err != nil {
			log.Printf("labfleet-podnet: %v (trying again in %s)", err, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// converge brings this node's CNI config, routes and masquerade rule to what the cluster's
// nodes say.
func converge(ctx context.Context, client kubernetes.Interface, self string, cluster *net.IPNet) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		_, podCIDR, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			continue // not given one yet
		}
		if n.Name == self {
			if err := writeCNIConfig(podCIDR); err != nil {
				return err
			}
			continue
		}
		gw := internalIP(n)
		if gw == nil {
			continue
		}
		if err := netlink.RouteReplace(&netlink.Route{Dst: podCIDR, Gw: gw}); err != nil {
			return fmt.Errorf("route %s via %s (node %s): %w", podCIDR, gw, n.Name, err)
		}
	}
	return masquerade(cluster)
}

func internalIP(n corev1.Node) net.IP {
	for _, a := range n.Status.Addresses {
		if ip := net.ParseIP(a.Address); a.Type == corev1.NodeInternalIP && ip.To4() != nil {
			return ip
		}
	}
	return nil
}

// writeCNIConfig writes the node's CNI config when it differs, beside its place and renamed
// into it: the kubelet reads whole files only.
func writeCNIConfig(podCIDR *net.IPNet) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "labfleet-podnet",
		"plugins": []any{
			map[string]any{
				"type": "ptp",
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR.String()}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(cniConfig); err == nil && string(have) == string(b) {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(cniConfig), ".labfleet-podnet.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write the CNI config: %w", err)
	}
	if err := os.Rename(tmp, cniConfig); err != nil {
		return fmt.Errorf("write the CNI config: %w", err)
	}
	log.Printf("labfleet-podnet: pods on this node get addresses in %s", podCIDR)
	return nil
}

// masquerade makes pods' traffic to outside the pod range leave with the node's address.
func masquerade(cluster *net.IPNet) error {
	rule := []string{"-s", cluster.String(), "!", "-d", cluster.String(), "-m", "comment", "--comment", "labfleet-podnet: pods to outside the cluster", "-j", "MASQUERADE"}
	if exec.Command("iptables", append([]string{"-t", "nat", "-C", "POSTROUTING"}, rule...)...).Run() == nil {
		return nil
	}
	if out, err := exec.Command("iptables", append([]string{"-t", "nat", "-A", "POSTROUTING"}, rule...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables: add the masquerade rule: %v: %s", err, out)
	}
	return nil
}
