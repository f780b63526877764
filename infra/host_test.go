package infra

import (
	"strings"
	"testing"

	"github.com/labfleet/labfleet/infra/plan"
)

func TestParseKernelReadsTheKernelScript(t *testing.T) {
	cases := []struct {
		out     string
		want    plan.Kernel
		kvm     bool
		wantErr string
	}{
		{"loaded 524288 512 kvm 000001ffffffffff", plan.Kernel{IPVS: true, InotifyWatches: 524288, InotifyInstances: 512, CapSysResource: true}, true, ""},
		{"module 8192 128 nokvm 000001fffeffffff", plan.Kernel{IPVSModule: true, InotifyWatches: 8192, InotifyInstances: 128}, false, ""},
		{"no 8192 128 nokvm 000001ffffffffff", plan.Kernel{InotifyWatches: 8192, InotifyInstances: 128, CapSysResource: true}, false, ""},
		{"no 8192 128", plan.Kernel{}, false, `unexpected answer "no 8192 128"`},
	}
	for _, c := range cases {
		k, kvm, err := parseKernel(strings.Fields(c.out))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || k != nil || kvm {
				t.Errorf("%q: %v, %v, err %v; want %q", c.out, k, kvm, err, c.wantErr)
			}
			continue
		}
		if err != nil || *k != c.want || kvm != c.kvm {
			t.Errorf("%q: %+v kvm %v err %v; want %+v kvm %v", c.out, k, kvm, err, c.want, c.kvm)
		}
	}
}
